// The TCP accept loop: one task per connection, a registry of live ones, the HTTP head read and
// routed, and WebSocket upgrades handed to their application. A fault in one connection ends
// that connection only.

import {
  type HeadLimits,
  HttpError,
  type RequestHead,
  RequestHeadParser,
} from "./http/request_head.ts";
import { encodeResponse, type HttpResponse, textResponse } from "./http/response.ts";
import { readableFrom, SlabReader, writableTo } from "./io/tcp_streams.ts";
import { type ConnectionOptions, WebSocketConnection } from "./websocket/connection.ts";
import { CloseCode } from "./websocket/frame.ts";
import {
  acceptKey,
  checkUpgrade,
  isUpgradeRequest,
  switchingProtocols,
} from "./websocket/handshake.ts";

/** A WebSocket application: it owns the connection until it returns. */
export type WebSocketApp = (conn: WebSocketConnection) => Promise<void>;

/** A plain HTTP endpoint: it answers a GET (or HEAD) with a response. */
export type HttpHandler = (head: RequestHead) => HttpResponse;

/** What the server serves, by path (the request-target without its query). */
export interface Routes {
  websocket: Record<string, WebSocketApp>;
  http: Record<string, HttpHandler>;
}

/** The server's limits and timeouts. */
export interface ServerOptions extends ConnectionOptions {
  hostname: string;
  port: number;
  head: HeadLimits;
  handshakeTimeoutMs: number;
  maxConnections: number;
  /** How long to keep reading (and discarding) after refusing a request, so the peer sees it. */
  lingerMs?: number;
}

const DEFAULT_LINGER_MS = 1000;

/** A listening wsecho server. */
export class Server {
  readonly #listener: Deno.TcpListener;
  readonly #options: ServerOptions;
  readonly #routes: Routes;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #sockets = new Set<WebSocketConnection>();
  readonly #tasks = new Set<Promise<void>>();
  #accepting: Promise<void> = Promise.resolve();

  private constructor(listener: Deno.TcpListener, options: ServerOptions, routes: Routes) {
    this.#listener = listener;
    this.#options = options;
    this.#routes = routes;
  }

  /** Binds the port and starts accepting. */
  static listen(options: ServerOptions, routes: Routes): Server {
    const listener = Deno.listen({ hostname: options.hostname, port: options.port });
    const server = new Server(listener, options, routes);
    server.#accepting = server.#acceptLoop();
    return server;
  }

  /** The bound address (the real port when 0 was asked for). */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** Open TCP connections, upgraded or not. */
  get connectionCount(): number {
    return this.#conns.size;
  }

  /** Stops accepting, drops every connection at once, and waits for their tasks to end. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    await this.#accepting;
    for (const conn of this.#conns) closeQuietly(conn);
    await Promise.all(this.#tasks);
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (err instanceof Deno.errors.BadResource) return; // listener closed
        continue; // e.g. EMFILE: keep serving the connections we have
      }
      const task = this.#handle(conn).finally(() => this.#tasks.delete(task));
      this.#tasks.add(task);
    }
  }

  async #handle(conn: Deno.TcpConn): Promise<void> {
    this.#conns.add(conn);
    const timer = setTimeout(() => closeQuietly(conn), this.#options.handshakeTimeoutMs);
    try {
      conn.setNoDelay(true);
      const reader = new SlabReader(conn);
      if (this.#conns.size > this.#options.maxConnections) {
        return await this.#refuse(
          conn,
          reader,
          textResponse(503, "server is at capacity", {
            "Retry-After": "5",
          }),
        );
      }
      const parser = new RequestHeadParser(this.#options.head);
      let head: RequestHead | null = null;
      try {
        while (head === null) {
          const chunk = await reader.read();
          if (chunk === null) return;
          head = parser.push(chunk);
        }
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        return await this.#refuse(conn, reader, textResponse(err.status, err.message));
      }
      clearTimeout(timer);
      const path = head.target.split("?", 1)[0];
      const app = this.#routes.websocket[path];
      const page = this.#routes.http[path];
      const isGet = head.method === "GET";
      if (app === undefined && page === undefined) {
        return await this.#refuse(conn, reader, textResponse(404, "not found"));
      }
      if (!isGet && !(head.method === "HEAD" && page !== undefined)) {
        return await this.#refuse(
          conn,
          reader,
          textResponse(405, "method not allowed", {
            Allow: page !== undefined ? "GET, HEAD" : "GET",
          }),
        );
      }
      if (app !== undefined && isUpgradeRequest(head)) {
        return await this.#upgrade(conn, reader, parser.rest, head, app);
      }
      if (page === undefined) {
        return await this.#refuse(
          conn,
          reader,
          textResponse(426, "this endpoint speaks WebSocket only", { Upgrade: "websocket" }),
        );
      }
      const res = page(head);
      if (head.method === "HEAD") res.omitBody = true;
      await this.#refuse(conn, reader, res);
    } catch {
      // A reset, a timeout closing the socket under a read, a failed write: this connection
      // is over, and nothing of it reaches the others.
    } finally {
      clearTimeout(timer);
      closeQuietly(conn);
      this.#conns.delete(conn);
    }
  }

  async #upgrade(
    conn: Deno.TcpConn,
    reader: SlabReader,
    rest: Uint8Array,
    head: RequestHead,
    app: WebSocketApp,
  ): Promise<void> {
    const check = checkUpgrade(head);
    if (!check.ok) return await this.#refuse(conn, reader, check.response);
    const accept = await acceptKey(check.key);
    let closed = false;
    const transport = {
      closeWrite: () => conn.closeWrite(),
      close: () => {
        if (!closed) closeQuietly(conn);
        closed = true;
      },
    };
    const ws = new WebSocketConnection(
      readableFrom(reader, rest, () => {}),
      writableTo(conn, 1, () => {}),
      transport,
      this.#options,
      {
        request: head,
        key: check.key,
        accept,
        remote: `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`,
      },
    );
    this.#sockets.add(ws);
    try {
      await ws.open(switchingProtocols(accept));
      await app(ws);
      await ws.close(CloseCode.Normal);
    } catch {
      await ws.close(CloseCode.InternalError, "internal error");
    } finally {
      this.#sockets.delete(ws);
    }
  }

  // Answers a plain request (or refuses one) and closes: the response, then FIN, then a short
  // read of whatever the client is still sending, so that closing does not reset the socket
  // before the client has read the response.
  async #refuse(conn: Deno.TcpConn, reader: SlabReader, res: HttpResponse): Promise<void> {
    await writeAll(conn, encodeResponse(res));
    await conn.closeWrite();
    const linger = setTimeout(
      () => closeQuietly(conn),
      this.#options.lingerMs ?? DEFAULT_LINGER_MS,
    );
    try {
      while (await reader.read() !== null) { /* discard */ }
    } finally {
      clearTimeout(linger);
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}
