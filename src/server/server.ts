// The accept loop and the life of one accepted socket: its request head read and routed, a
// plain response or a WebSocket upgrade, the application run, and how it ended counted and
// logged. Runtime-neutral: sockets come from a Listener (src/runtime/*).

import {
  type CloseInfo,
  type ConnectionOptions,
  type HandshakeInfo,
  WebSocketConnection,
} from "../connection/connection.ts";
import { InputMemory, type MemoryBudget, unlimitedBudget } from "../connection/input_memory.ts";
import { type Listener, PeerGone, type Socket } from "../connection/socket.ts";
import {
  type HeadLimits,
  HttpError,
  type RequestHead,
  RequestHeadParser,
} from "../http/request_head.ts";
import { encodeResponse, type HttpResponse, textResponse } from "../http/response.ts";
import { acceptUpgrade, type UpgradePolicy } from "../http/upgrade.ts";
import { type Logger, silentLogger } from "../log.ts";
import { type LiveFigures, Metrics, renderMetrics } from "../metrics.ts";
import { type DeflateParams, PerMessageDeflate } from "../protocol/deflate.ts";
import { CloseCode } from "../protocol/frame.ts";
import { Registry } from "./registry.ts";
import { busy, route, type Routes, type ServerView, type WebSocketApp } from "./router.ts";

/** The server's limits, timeouts and policies. */
export interface ServerOptions extends ConnectionOptions, UpgradePolicy {
  head: HeadLimits;
  /** Time to send a whole request head (ms). */
  handshakeTimeout: number;
  maxConnections: number;
  /** Open connections allowed from one address; 0 for no cap. */
  maxConnectionsPerIp: number;
  /** Idle time before a ping, and the wait for any reply after it (ms); 0 turns it off. */
  pingInterval: number;
  pingTimeout: number;
  /** Input memory of every connection together (default: unlimited). */
  memory?: MemoryBudget;
  /** This worker's number, for logs and metrics. */
  worker?: number;
  /** How long to keep reading (and discarding) after refusing a request, so the peer sees it. */
  linger?: number;
  logger?: Logger;
}

const DEFAULT_LINGER_MS = 1000;
// A connection already waiting for input when a drain starts gets this long for bytes already
// on their way to arrive and be echoed before it is sent its close frame.
const DRAIN_GRACE_MS = 50;

/** A server accepting from one listener. */
export class Server implements ServerView {
  readonly #listener: Listener;
  readonly #options: ServerOptions;
  readonly #routes: Routes;
  readonly #log: Logger;
  readonly #budget: MemoryBudget;
  readonly #registry = new Registry();
  readonly metrics = new Metrics();
  readonly #accepting: Promise<void>;
  #draining = false;
  // (One function for every connection, not a closure or a promise reaction per connection.)
  readonly #untrack = (ws: WebSocketConnection) => this.#registry.untrack(ws);

  constructor(listener: Listener, options: ServerOptions, routes: Routes) {
    this.#listener = listener;
    this.#options = options;
    this.#routes = routes;
    this.#log = options.logger ?? silentLogger;
    this.#budget = options.memory ?? unlimitedBudget;
    this.#registry.startKeepalive(options);
    this.#accepting = this.#acceptLoop();
  }

  /** The bound address. */
  get addr(): { hostname: string; port: number } {
    return this.#listener.addr;
  }

  /** True once a drain has begun: new requests get 503. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Open TCP connections, upgraded or not. */
  get connectionCount(): number {
    return this.#registry.sockets;
  }

  /** The Prometheus exposition of this server's metrics. */
  metricsText(): string {
    const live: LiveFigures = {
      worker: this.#options.worker ?? 0,
      openConnections: this.#registry.sockets,
      openWebSockets: this.#registry.websockets.size,
      backpressured: 0,
      messagesIn: 0,
      messagesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      memoryHeld: this.#budget.held,
      memoryLimit: this.#budget.limit,
    };
    for (const ws of this.#registry.websockets) {
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
   * already received is echoed, and after `timeout` ms whatever is left is dropped.
   */
  async drain(timeout: number): Promise<void> {
    this.#draining = true;
    this.#log.log("info", "drain_started", {
      websockets: this.#registry.websockets.size,
      timeout_ms: timeout,
    });
    const result = await this.#registry.drain(
      CloseCode.GoingAway,
      "going away",
      DRAIN_GRACE_MS,
      timeout,
    );
    this.#log.log("info", "drain_finished", { ...result, left: this.#registry.websockets.size });
    await this.close();
  }

  /** Stops accepting, drops every connection at once, and waits for their tasks to end. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    await this.#registry.closeAll();
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let socket: Socket | null;
      try {
        socket = await this.#listener.accept();
      } catch (err) {
        // e.g. out of file descriptors: keep serving the connections we have, and retry soon.
        this.#log.log("error", "accept_failed", { error: stack(err) });
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (socket === null) return; // the listener was closed
      this.metrics.connectionsTotal++;
      const s = socket;
      this.#registry.add(s, (id, fromIp) => this.#handle(s, id, fromIp));
    }
  }

  // The life of one socket. The request is read and answered in #request, whose frame (and
  // the request head in it) is released before serving starts. (A promise chain, not an async
  // function: a suspended frame, and the upgrade in it, would be parked on every connection.)
  #handle(socket: Socket, id: number, fromIp: number): Promise<void> {
    const memory = new InputMemory(this.#budget);
    return this.#request(socket, memory, fromIp)
      .then((up) => {
        // From here the connection owns the socket and the memory, and releases both as it
        // closes.
        return up === undefined ? dismiss(socket, memory) : this.#serve(id, up);
      }, (err) => {
        this.#failed(id, err);
        dismiss(socket, memory);
      })
      .then(() => this.#registry.remove(socket), (err) => {
        this.#failed(id, err);
        this.#registry.remove(socket);
      });
  }

  // A peer that went away mid-write is expected; anything else is a fault in this connection
  // only, logged with its stack, and nothing of it reaches the others.
  #failed(id: number, err: unknown): void {
    if (!(err instanceof PeerGone)) {
      this.#log.log("error", "connection_failed", { id, error: stack(err) });
    }
  }

  // Reads and answers the request; resolves with the upgrade to serve, if it is one.
  async #request(
    socket: Socket,
    memory: InputMemory,
    fromIp: number,
  ): Promise<Upgrade | void> {
    if (this.#registry.sockets > this.#options.maxConnections) {
      return await this.#refuse(socket, memory, "max_connections", busy("server is at capacity"));
    }
    const perIp = this.#options.maxConnectionsPerIp;
    if (perIp > 0 && fromIp > perIp) {
      return await this.#refuse(socket, memory, "max_per_ip", busy("too many connections"));
    }
    const timer = setTimeout(() => {
      this.#rejected("handshake_timeout", 408, socket);
      socket.close(); // the pending read ends with no input
    }, this.#options.handshakeTimeout);
    let read: Awaited<ReturnType<typeof readHead>>;
    try {
      read = await readHead(socket, memory, this.#options.head);
    } finally {
      clearTimeout(timer);
    }
    if (read === null) return;
    if (read instanceof HttpError) {
      const res = textResponse(read.status, read.message);
      return await this.#refuse(socket, memory, `http_${read.status}`, res);
    }
    const decision = route(read.head, this.#routes, this);
    if (decision.kind === "respond") {
      if (decision.reason !== undefined) {
        return await this.#refuse(socket, memory, decision.reason, decision.response);
      }
      return await this.#respond(socket, memory, decision.response);
    }
    const answer = await acceptUpgrade(read.head, this.#options);
    if (!answer.ok) return await this.#refuse(socket, memory, answer.reason, answer.response);
    return {
      socket,
      memory,
      app: decision.app,
      response: answer.response,
      initial: read.rest,
      handshake: {
        path: read.head.target,
        key: answer.key,
        accept: answer.accept,
        remote: `${socket.remote.hostname}:${socket.remote.port}`,
        extensions: answer.extensions,
        protocol: answer.protocol,
      },
      deflate: answer.deflate ?? null,
    };
  }

  // Runs the application on an upgraded connection, then counts and logs how it ended. (Not
  // async: its suspended frame would be parked on every open connection.)
  #serve(id: number, up: Upgrade): Promise<void> {
    // The callbacks below take what they need, not `up`: its response and first bytes would
    // otherwise be parked with the connection for its whole life.
    const { app, memory, handshake } = up;
    const ws = new WebSocketConnection(up.socket, {
      options: this.#options,
      memory: up.memory,
      initial: up.initial,
      handshake: up.handshake,
      id,
      onClosed: this.#untrack,
      deflate: up.deflate !== null && this.#options.deflate
        ? new PerMessageDeflate(up.deflate, this.#options.deflate)
        : null,
    });
    const started = performance.now();
    this.#registry.track(ws);
    return ws.open(up.response)
      .then((opened) => {
        if (!opened) return ws.close(); // the 101 could not be written: the peer is gone
        this.#log.log("debug", "connection_opened", {
          id,
          remote: handshake.remote,
          path: handshake.path,
          protocol: handshake.protocol,
        });
        return this.#run(id, ws, app);
      })
      .then((info) => {
        const refused = memory.refused;
        if (info.code === CloseCode.TryAgainLater && refused !== null) {
          // Why 1013: the message's next buffer would have crossed the process-wide budget.
          this.#log.log("warn", "memory_budget_exceeded", {
            id,
            remote: handshake.remote,
            wanted_bytes: refused.wanted,
            held_bytes: refused.held,
            limit_bytes: refused.limit,
          });
        }
        this.#served(ws, info, started);
      });
  }

  // Runs the application, then closes: with 1000 when it returns, 1011 when it throws.
  #run(id: number, ws: WebSocketConnection, app: WebSocketApp): Promise<CloseInfo> {
    let running: Promise<void>;
    try {
      running = Promise.resolve(app(ws));
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.then(
      () => ws.close(CloseCode.Normal),
      (err) => {
        this.#log.log("error", "app_failed", { id, error: stack(err) });
        return ws.close(CloseCode.InternalError, "internal error");
      },
    );
  }

  // Counts and logs a WebSocket connection that has closed.
  #served(ws: WebSocketConnection, info: CloseInfo, started: number): void {
    const error = ws.protocolError;
    if (error !== null) {
      // Where: the offending byte is among the last read's, so at or before `at_byte`.
      this.#log.log("debug", "protocol_error", {
        id: ws.id,
        remote: ws.handshake?.remote,
        close_code: error.code,
        reason: error.reason,
        at_byte: error.atByte,
      });
    }
    this.metrics.closed(info.code);
    this.metrics.messagesIn += ws.messagesIn;
    this.metrics.messagesOut += ws.messagesOut;
    this.metrics.bytesIn += ws.bytesIn;
    this.metrics.bytesOut += ws.bytesOut;
    this.#log.log("info", "connection_closed", {
      id: ws.id,
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

  #rejected(reason: string, status: number, socket: Socket): void {
    this.metrics.reject(reason);
    this.#log.log("info", "request_rejected", {
      reason,
      status,
      remote: `${socket.remote.hostname}:${socket.remote.port}`,
    });
  }

  // Refuses a request: counted, logged, answered.
  #refuse(socket: Socket, memory: InputMemory, reason: string, res: HttpResponse) {
    this.#rejected(reason, res.status, socket);
    return this.#respond(socket, memory, res);
  }

  // Writes a response and closes: the response, then FIN, then a short read of whatever the
  // client is still sending, so that closing does not reset the socket before the client has
  // read the response.
  async #respond(socket: Socket, memory: InputMemory, res: HttpResponse): Promise<void> {
    const bytes = encodeResponse(res);
    for (let done = 0; done < bytes.length;) done += await socket.write(bytes.subarray(done));
    await socket.closeWrite();
    const linger = setTimeout(() => socket.close(), this.#options.linger ?? DEFAULT_LINGER_MS);
    try {
      while (await socket.read(memory.readBuffer()) !== null) { /* discard */ }
    } finally {
      clearTimeout(linger);
    }
  }
}

// Reads until the request head is complete: the head and the bytes after it, the HttpError
// that refuses it, or null at end of input. (A function of its own so that the parser and its
// buffer are garbage once the head is read, not parked with every open connection.)
async function readHead(
  socket: Socket,
  memory: InputMemory,
  limits: HeadLimits,
): Promise<{ head: RequestHead; rest: Uint8Array } | HttpError | null> {
  const parser = new RequestHeadParser(limits);
  for (;;) {
    const n = await socket.read(memory.readBuffer());
    if (n === null) return null;
    let head: RequestHead | null;
    try {
      head = parser.push(memory.commit(n));
    } catch (err) {
      if (err instanceof HttpError) return err;
      throw err;
    }
    if (head !== null) return { head, rest: parser.rest };
  }
}

/** An accepted upgrade, ready to serve. */
interface Upgrade {
  socket: Socket;
  memory: InputMemory;
  app: WebSocketApp;
  response: Uint8Array;
  initial: Uint8Array;
  handshake: HandshakeInfo;
  deflate: DeflateParams | null;
}

// A socket that was not upgraded: closed, and its memory given back.
function dismiss(socket: Socket, memory: InputMemory): void {
  socket.close();
  memory.dispose();
}

function stack(err: unknown): string {
  return err instanceof Error ? err.stack ?? String(err) : String(err);
}
