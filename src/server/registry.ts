// The live connections of one server: every accepted socket (with a count per address), every
// open WebSocket, the keepalive sweep over them, and the drain that closes them all.

import type { CloseInfo, WebSocketConnection } from "../connection/connection.ts";
import type { KeepaliveTiming } from "../connection/liveness.ts";
import type { Socket } from "../connection/socket.ts";

/** How a drain ended: connections that finished their close handshake, and those cut. */
export interface DrainResult {
  clean: number;
  cut: number;
}

const DONE = Promise.resolve();

/** Live connections, by socket and by WebSocket. */
export class Registry {
  readonly #sockets = new Map<Socket, Promise<void>>();
  readonly #perIp = new Map<string, number>();
  readonly #websockets = new Set<WebSocketConnection>();
  #sweep: ReturnType<typeof setInterval> | undefined;
  #lastId = 0;

  /** Open sockets, upgraded or not. */
  get sockets(): number {
    return this.#sockets.size;
  }

  /** Open WebSocket connections. */
  get websockets(): ReadonlySet<WebSocketConnection> {
    return this.#websockets;
  }

  /**
   * Registers a socket and the task serving it, which calls remove() as it ends. The task is
   * given the socket's id and how many connections its address has.
   */
  add(socket: Socket, serve: (id: number, fromIp: number) => Promise<void>): void {
    const ip = socket.remote.hostname;
    const fromIp = (this.#perIp.get(ip) ?? 0) + 1;
    this.#perIp.set(ip, fromIp);
    this.#sockets.set(socket, DONE); // counted before serving starts (the capacity check)
    const task = serve(++this.#lastId, fromIp);
    if (this.#sockets.has(socket)) this.#sockets.set(socket, task);
  }

  /** A socket's task has ended. (Called by the task, not chained on it: one promise less.) */
  remove(socket: Socket): void {
    if (!this.#sockets.delete(socket)) return;
    const ip = socket.remote.hostname;
    const left = this.#perIp.get(ip)! - 1;
    if (left === 0) this.#perIp.delete(ip);
    else this.#perIp.set(ip, left);
  }

  /** Tracks an open WebSocket until untrack() (called as it closes). */
  track(ws: WebSocketConnection): void {
    this.#websockets.add(ws);
  }

  /** A WebSocket has closed. */
  untrack(ws: WebSocketConnection): void {
    this.#websockets.delete(ws);
  }

  /** Starts the keepalive sweep: one timer for every connection, so idle ones stay cheap. */
  startKeepalive(timing: KeepaliveTiming): void {
    if (timing.pingInterval <= 0) return;
    const every = Math.max(10, Math.min(timing.pingInterval, timing.pingTimeout) / 2);
    this.#sweep = setInterval(() => {
      const now = performance.now();
      for (const ws of this.#websockets) ws.keepalive(now, timing);
    }, every);
  }

  /**
   * Closes every open WebSocket with `code` once what it already received is echoed (after
   * `grace` ms without input), and waits up to `timeout` ms for them to close.
   */
  async drain(code: number, reason: string, grace: number, timeout: number): Promise<DrainResult> {
    const closing = [...this.#websockets].map((ws) => ws.shutdown(code, reason, grace));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<void>((resolve) => timer = setTimeout(resolve, timeout));
    let clean = 0;
    const counted = closing.map((p) => p.then((info: CloseInfo) => info.clean && clean++));
    await Promise.race([Promise.all(counted), expired]);
    clearTimeout(timer);
    // Cut: closed without a close handshake, or still open at the deadline.
    return { clean, cut: closing.length - clean };
  }

  /** Closes every socket at once and waits for the tasks serving them to end. */
  async closeAll(): Promise<void> {
    clearInterval(this.#sweep);
    for (const socket of this.#sockets.keys()) socket.close();
    await Promise.all(this.#sockets.values());
  }
}
