// The TCP accept loop: one task per connection, a registry of live ones, the HTTP head read and
// routed, WebSocket upgrades handed to their application, and the graceful drain. A fault in
// one connection ends that connection only.

import {
  header,
  type HeadLimits,
  HttpError,
  type RequestHead,
  RequestHeadParser,
} from "./http/request_head.ts";
import { encodeResponse, type HttpResponse, textResponse } from "./http/response.ts";
import { SlabReader, TcpTransport } from "./io/tcp_transport.ts";
import { type Logger, silentLogger } from "./log.ts";
import { type LiveFigures, Metrics, renderMetrics } from "./metrics.ts";
import {
  type CloseInfo,
  type ConnectionOptions,
  WebSocketConnection,
} from "./websocket/connection.ts";
import { CloseCode } from "./websocket/frame.ts";
import {
  acceptKey,
  checkUpgrade,
  isUpgradeRequest,
  selectProtocol,
  switchingProtocols,
} from "./websocket/handshake.ts";

/** A WebSocket application: it owns the connection until it returns. */
export type WebSocketApp = (conn: WebSocketConnection) => Promise<void>;

/** A plain HTTP endpoint: it answers a GET (or HEAD) with a response. */
export type HttpHandler = (head: RequestHead, server: Server) => HttpResponse;

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
  /** Open connections allowed from one address; 0 for no cap. */
  maxConnectionsPerIp: number;
  /** Origins allowed to upgrade; empty for any. Requests without Origin are not browsers. */
  allowedOrigins: readonly string[];
  /** Subprotocols the server may select (the first one the client offers); empty for none. */
  protocols: readonly string[];
  /** Idle time before a ping, and the wait for any reply after it; 0 turns keepalive off. */
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** Share the port with other processes or workers (Linux SO_REUSEPORT). */
  reusePort?: boolean;
  /** This worker's number, for logs and metrics. */
  worker?: number;
  /** How long to keep reading (and discarding) after refusing a request, so the peer sees it. */
  lingerMs?: number;
  logger?: Logger;
}

const DEFAULT_LINGER_MS = 1000;
// A connection already waiting for input when a drain starts gets this long for bytes already
// on their way to arrive and be echoed before it is sent its close frame.
const DRAIN_GRACE_MS = 50;

/** A listening wsecho server. */
export class Server {
  readonly #listener: Deno.TcpListener;
  readonly #options: ServerOptions;
  readonly #routes: Routes;
  readonly #log: Logger;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #perIp = new Map<string, number>();
  readonly #sockets = new Set<WebSocketConnection>();
  readonly #tasks = new Map<Deno.TcpConn, Promise<void>>();
  readonly metrics = new Metrics();
  #accepting: Promise<void> = Promise.resolve();
  #sweep: ReturnType<typeof setInterval> | undefined;
  #draining = false;

  private constructor(listener: Deno.TcpListener, options: ServerOptions, routes: Routes) {
    this.#listener = listener;
    this.#options = options;
    this.#routes = routes;
    this.#log = options.logger ?? silentLogger;
  }

  /** Binds the port and starts accepting. */
  static listen(options: ServerOptions, routes: Routes): Server {
    const listener = options.reusePort
      ? Deno.listen({ hostname: options.hostname, port: options.port, reusePort: true })
      : Deno.listen({ hostname: options.hostname, port: options.port });
    const server = new Server(listener, options, routes);
    server.#accepting = server.#acceptLoop();
    if (options.pingIntervalMs > 0) {
      // One sweep for all connections rather than a timer each: idle sockets stay cheap.
      const every = Math.max(10, Math.min(options.pingIntervalMs, options.pingTimeoutMs) / 2);
      server.#sweep = setInterval(() => {
        const now = performance.now();
        for (const ws of server.#sockets) {
          ws.keepalive(now, options.pingIntervalMs, options.pingTimeoutMs);
        }
      }, every);
    }
    return server;
  }

  /** The bound address (the real port when 0 was asked for). */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** True once a drain has begun: new requests get 503. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Open TCP connections, upgraded or not. */
  get connectionCount(): number {
    return this.#conns.size;
  }

  /** The Prometheus exposition of this server's metrics. */
  metricsText(): string {
    const live: LiveFigures = {
      worker: this.#options.worker ?? 0,
      openConnections: this.#conns.size,
      openWebSockets: this.#sockets.size,
      backpressured: 0,
      messagesIn: 0,
      messagesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
    };
    for (const ws of this.#sockets) {
      if (ws.backpressured) live.backpressured++;
      live.messagesIn += ws.messagesIn;
      live.messagesOut += ws.messagesOut;
      live.bytesIn += ws.bytesIn;
      live.bytesOut += ws.bytesOut;
    }
    return renderMetrics(this.metrics, live);
  }

  /**
   * Graceful drain: new requests get 503, every open WebSocket is closed with 1001 once what it
   * already received is echoed, and after `timeoutMs` whatever is left is dropped.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    this.#log.log("info", "drain_started", {
      websockets: this.#sockets.size,
      timeout_ms: timeoutMs,
    });
    const closing = [...this.#sockets].map((ws) =>
      ws.shutdown(CloseCode.GoingAway, "going away", DRAIN_GRACE_MS)
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) =>
      timer = setTimeout(resolve, timeoutMs, false)
    );
    const done = await Promise.race([Promise.all(closing).then(() => true), timeout]);
    clearTimeout(timer);
    this.#log.log("info", "drain_finished", { clean: done, left: this.#sockets.size });
    await this.close();
  }

  /** Stops accepting, drops every connection at once, and waits for their tasks to end. */
  async close(): Promise<void> {
    clearInterval(this.#sweep);
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    await this.#accepting;
    for (const conn of this.#conns) closeQuietly(conn);
    await Promise.all(this.#tasks.values());
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
      this.metrics.connectionsTotal++;
      this.#tasks.set(conn, this.#handle(conn));
    }
  }

  // One frame for the life of the connection: the request itself is read and answered in
  // #request, whose frame (and the request head in it) is released before serving starts.
  async #handle(conn: Deno.TcpConn): Promise<void> {
    const ip = conn.remoteAddr.hostname;
    this.#conns.add(conn);
    const fromIp = (this.#perIp.get(ip) ?? 0) + 1;
    this.#perIp.set(ip, fromIp);
    try {
      const up = await this.#request(conn, fromIp);
      if (up !== undefined) await this.#serve(up.ws, up.app, up.opened);
    } catch {
      // A reset, a timeout closing the socket under a read, a failed write: this connection
      // is over, and nothing of it reaches the others.
    } finally {
      closeQuietly(conn);
      this.#conns.delete(conn);
      this.#tasks.delete(conn);
      const left = this.#perIp.get(ip)! - 1;
      if (left === 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, left);
    }
  }

  // Reads and answers the request; resolves with the upgrade to serve, if it is one.
  async #request(conn: Deno.TcpConn, fromIp: number): Promise<Upgrade | void> {
    const timer = setTimeout(() => {
      this.#reject("handshake_timeout", 408, conn);
      closeQuietly(conn);
    }, this.#options.handshakeTimeoutMs);
    const reader = new SlabReader(conn);
    try {
      conn.setNoDelay(true);
      if (this.#conns.size > this.#options.maxConnections) {
        clearTimeout(timer);
        return await this.#refuse(conn, reader, "max_connections", busy("server is at capacity"));
      }
      const perIp = this.#options.maxConnectionsPerIp;
      if (perIp > 0 && fromIp > perIp) {
        clearTimeout(timer);
        return await this.#refuse(conn, reader, "max_per_ip", busy("too many connections"));
      }
      const read = await readHead(reader, this.#options.head);
      clearTimeout(timer);
      if (read === null) return;
      if (read instanceof HttpError) {
        return await this.#refuse(
          conn,
          reader,
          `http_${read.status}`,
          textResponse(read.status, read.message),
        );
      }
      return await this.#route(conn, reader, read.head, read.rest);
    } finally {
      clearTimeout(timer);
    }
  }

  // Not async: it only picks the handler, and a suspended frame would be parked on every
  // open connection.
  #route(
    conn: Deno.TcpConn,
    reader: SlabReader,
    head: RequestHead,
    rest: Uint8Array,
  ): Promise<Upgrade | void> {
    const path = targetPath(head.target);
    const app = this.#routes.websocket[path];
    const page = this.#routes.http[path];
    if (app === undefined && page === undefined) {
      return this.#refuse(conn, reader, "not_found", textResponse(404, "not found"));
    }
    const isGet = head.method === "GET";
    if (!isGet && !(head.method === "HEAD" && page !== undefined)) {
      const allow = page !== undefined ? "GET, HEAD" : "GET";
      return this.#refuse(
        conn,
        reader,
        "method",
        textResponse(405, "method not allowed", { Allow: allow }),
      );
    }
    if (app !== undefined && isGet && isUpgradeRequest(head)) { // RFC 6455 §4.2.1: GET only
      if (this.#draining) {
        return this.#refuse(conn, reader, "draining", busy("server is shutting down"));
      }
      return this.#upgrade(conn, reader, rest, head, app);
    }
    if (page === undefined) {
      return this.#refuse(
        conn,
        reader,
        "not_websocket",
        textResponse(426, "this endpoint speaks WebSocket only", { Upgrade: "websocket" }),
      );
    }
    const res = page(head, this);
    if (head.method === "HEAD") res.omitBody = true;
    return this.#respond(conn, reader, res);
  }

  async #upgrade(
    conn: Deno.TcpConn,
    reader: SlabReader,
    rest: Uint8Array,
    head: RequestHead,
    app: WebSocketApp,
  ): Promise<Upgrade | void> {
    const check = checkUpgrade(head);
    if (!check.ok) return await this.#refuse(conn, reader, "bad_handshake", check.response);
    const origin = header(head, "origin");
    const allowed = this.#options.allowedOrigins;
    if (origin !== undefined && allowed.length > 0 && !allowed.includes(origin)) {
      return await this.#refuse(conn, reader, "origin", textResponse(403, "origin not allowed"));
    }
    const accept = await acceptKey(check.key);
    const ws = new WebSocketConnection(new TcpTransport(conn, reader, rest), this.#options, {
      path: head.target,
      key: check.key,
      accept,
      remote: `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`,
    });
    const response = switchingProtocols(
      accept,
      selectProtocol(check.protocols, this.#options.protocols),
    );
    // Returned, to be served by #handle: this frame (and the request head in it) is then
    // released, rather than parked for the life of the connection.
    const opened = ws.open(response);
    opened.catch(ignore); // handled by #serve, a few turns later
    return { ws, app, opened };
  }

  // Runs the application on an upgraded connection, then counts and logs how it ended. (Not
  // async: a suspended frame of its own would be parked on every open connection.)
  #serve(ws: WebSocketConnection, app: WebSocketApp, opened: Promise<void>): Promise<void> {
    const started = performance.now();
    this.#sockets.add(ws);
    return opened
      .then(() => app(ws))
      .then(
        () => ws.close(CloseCode.Normal),
        // The application threw, or the 101 could not be written (then no close frame is sent).
        () => ws.close(CloseCode.InternalError, "internal error"),
      )
      .then((info) => this.#served(ws, info, started))
      .finally(() => this.#sockets.delete(ws));
  }

  // Counts and logs a WebSocket connection that has closed.
  #served(ws: WebSocketConnection, info: CloseInfo, started: number): void {
    this.metrics.closed(info.code);
    this.metrics.messagesIn += ws.messagesIn;
    this.metrics.messagesOut += ws.messagesOut;
    this.metrics.bytesIn += ws.bytesIn;
    this.metrics.bytesOut += ws.bytesOut;
    this.#log.log("info", "connection_closed", {
      remote: ws.handshake?.remote,
      path: ws.handshake?.path,
      duration_ms: Math.round(performance.now() - started),
      messages_in: ws.messagesIn,
      messages_out: ws.messagesOut,
      bytes_in: ws.bytesIn,
      bytes_out: ws.bytesOut,
      close_code: info.code,
      close_reason: info.reason,
      clean: info.clean,
    });
  }

  #reject(reason: string, status: number, conn: Deno.TcpConn): void {
    this.metrics.reject(reason);
    this.#log.log("info", "request_rejected", {
      reason,
      status,
      remote: `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`,
    });
  }

  // Refuses a request: counted, logged, answered.
  #refuse(conn: Deno.TcpConn, reader: SlabReader, reason: string, res: HttpResponse) {
    this.#reject(reason, res.status, conn);
    return this.#respond(conn, reader, res);
  }

  // Writes a response and closes: the response, then FIN, then a short read of whatever the
  // client is still sending, so that closing does not reset the socket before the client has
  // read the response.
  async #respond(conn: Deno.TcpConn, reader: SlabReader, res: HttpResponse): Promise<void> {
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

// Reads until the request head is complete: the head and the bytes after it, the HttpError
// that refuses it, or null at end of input. (A function of its own so that the parser and its
// buffer are garbage once the head is read, not parked with every open connection.)
async function readHead(
  reader: SlabReader,
  limits: HeadLimits,
): Promise<{ head: RequestHead; rest: Uint8Array } | HttpError | null> {
  const parser = new RequestHeadParser(limits);
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk === null) return null;
      const head = parser.push(chunk);
      if (head !== null) return { head, rest: parser.rest };
    }
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
}

// The path of a request-target: origin form ("/p?q") or absolute form ("http://host/p?q").
function targetPath(target: string): string {
  let t = target;
  if (!t.startsWith("/")) {
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(t);
    t = m === null ? t : m[1] === "" ? "/" : m[1];
  }
  return t.split("?", 1)[0];
}

/** An accepted upgrade: the connection, the application to run, and the 101 being written. */
interface Upgrade {
  ws: WebSocketConnection;
  app: WebSocketApp;
  opened: Promise<void>;
}

const ignore = () => {};

function busy(message: string): HttpResponse {
  return textResponse(503, message, { "Retry-After": "5" });
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
