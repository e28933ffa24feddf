// Bun's TCP sockets (Bun.listen with socket handlers) behind the core's Socket and Listener
// interfaces. Bun pushes each chunk it reads to a `data` handler; the core pulls with
// read(into). The bridge: a chunk goes straight into a pending read's buffer; without one it is
// kept, and once more than MAX_BUFFERED bytes are kept the socket is paused (Bun stops polling it
// for input, so the kernel's receive window fills and the peer is slowed by TCP itself) until
// reads have taken it below half. Bun.listen rather than node:net: in Bun, node:net is a layer
// over these same native sockets (with a Duplex stream and its buffering on top), so it can only
// add work per chunk.

import { setImmediate } from "node:timers";
import { type Listener, PeerGone, type Socket } from "../../connection/socket.ts";
import type { BunGlobal, BunSocketHandlers, BunTcpSocket } from "./bun_api.ts";

declare const Bun: BunGlobal;

/**
 * Input kept for a socket while no read is pending, beyond which it is paused. A chunk from Bun
 * is at most its receive buffer (512 KiB), so a socket holds at most this plus one chunk.
 */
export const MAX_BUFFERED = 256 * 1024;

/** A socket of Bun.listen as a Socket. */
class BunSocket implements Socket {
  readonly remote: { hostname: string; port: number };
  readonly #socket: BunTcpSocket<BunSocket>;
  // Input not yet read: chunks (views, the first one partly consumed) and their total. (Made
  // when first needed: an idle connection parks nothing it does not use.)
  #chunks: Uint8Array[] | null = null;
  #buffered = 0;
  #paused = false;
  /** No more input will come: FIN, reset, or closed by us. */
  #ended = false;
  /** Nothing more can be written: closed (by either side). */
  #closed = false;
  // The read waiting for input (every idle connection has one): where it goes, and its answer.
  #into: Uint8Array | null = null;
  #answer: ((n: number | null) => void) | null = null;
  // The write waiting for the end of the event loop's turn, or for `drain` (one at a time: the
  // core's write queue waits for each write before the next).
  #out: Uint8Array | null = null;
  #wrote: ((n: number) => void) | null = null;
  #writeFailed: ((err: PeerGone) => void) | null = null;

  constructor(socket: BunTcpSocket<BunSocket>) {
    this.#socket = socket;
    this.remote = { hostname: socket.remoteAddress, port: socket.remotePort };
  }

  read(into: Uint8Array): Promise<number | null> {
    if (this.#buffered > 0) return Promise.resolve(this.#take(into));
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#into = into;
      this.#answer = resolve;
    });
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new PeerGone("the socket is closed"));
    if (bytes.length === 0) return Promise.resolve(0);
    // (A second write before the first has resolved would lose the first one's answer.)
    if (this.#out !== null) return Promise.reject(new Error("a write is already pending"));
    return new Promise((resolve, reject) => {
      this.#out = bytes;
      this.#wrote = resolve;
      this.#writeFailed = reject;
      deferWrite(this);
    });
  }

  /** Writes what write() deferred, if it is still waiting; again at `drain` if nothing went. */
  flushWrite(): void {
    const bytes = this.#out;
    if (bytes === null) return;
    const n = this.#socket.write(bytes);
    if (n === 0) return; // the kernel's send buffer is full: Bun calls `drain` when it empties
    const wrote = this.#wrote!, failed = this.#writeFailed!;
    this.#out = this.#wrote = this.#writeFailed = null;
    if (n > 0) wrote(n);
    else failed(new PeerGone("the socket is closed"));
  }

  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(new PeerGone("the socket is closed"));
    this.#socket.shutdown();
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed && this.#ended) return;
    this.#socket.end();
    this.#gone();
  }

  /** Bun read `chunk` (a fresh Uint8Array, ours to keep). */
  onData(chunk: Uint8Array): void {
    const into = this.#into, answer = this.#answer;
    if (answer !== null && this.#buffered === 0) {
      this.#into = this.#answer = null;
      const n = Math.min(chunk.length, into!.length);
      into!.set(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (n < chunk.length) this.#keep(chunk.subarray(n));
      answer(n);
      return;
    }
    this.#keep(chunk);
  }

  /** The peer sent FIN: what is kept can still be read, then reads end. */
  onEnd(): void {
    this.#ended = true;
    if (this.#answer !== null && this.#buffered === 0) this.#settleReader();
  }

  /** The kernel took what it could not before: a waiting write tries again. */
  onDrain(): void {
    this.flushWrite();
  }

  /** The socket is closed (by the peer, a reset, or us). */
  onClose(): void {
    this.#gone();
  }

  #gone(): void {
    this.#ended = true;
    this.#closed = true;
    // Input kept is dropped: once closed, the connection reads nothing more (as on Deno).
    this.#chunks = null;
    this.#buffered = 0;
    this.#settleReader();
    const failed = this.#writeFailed;
    this.#out = this.#wrote = this.#writeFailed = null;
    failed?.(new PeerGone("the socket was closed"));
  }

  #settleReader(): void {
    const answer = this.#answer;
    this.#into = this.#answer = null;
    answer?.(null);
  }

  #keep(chunk: Uint8Array): void {
    (this.#chunks ??= []).push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered > MAX_BUFFERED && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  // Copies kept input into `into`, as much as fits. (Only called with input kept.)
  #take(into: Uint8Array): number {
    const chunks = this.#chunks!;
    let n = 0;
    while (n < into.length && chunks.length > 0) {
      const chunk = chunks[0];
      const k = Math.min(chunk.length, into.length - n);
      into.set(k === chunk.length ? chunk : chunk.subarray(0, k), n);
      n += k;
      if (k === chunk.length) chunks.shift();
      else chunks[0] = chunk.subarray(k);
    }
    this.#buffered -= n;
    if (this.#paused && this.#buffered < MAX_BUFFERED / 2 && !this.#closed) {
      this.#paused = false;
      this.#socket.resume();
    }
    return n;
  }
}

// Writes wait for the end of the event loop's turn, then go out one after the other: a loop turn
// handles every socket that epoll found readable (each `data` call runs the core's echo in its
// microtasks), and their answers then leave together. Written as each one is ready instead, the
// sends are spread over the turn, and a peer that has handled one (the load generator on the
// other CPU) is asleep again when the next arrives: each send then pays for waking it, an
// inter-processor interrupt that a profile showed at a fifth of the server's CPU time.
const deferred: BunSocket[] = [];
let flushScheduled = false;

function deferWrite(socket: BunSocket): void {
  deferred.push(socket);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushDeferred);
  }
}

function flushDeferred(): void {
  flushScheduled = false;
  // (Nothing runs in between: a write resolved here is followed up in later microtasks, which
  // defer to a fresh turn.)
  for (let i = 0; i < deferred.length; i++) deferred[i].flushWrite();
  deferred.length = 0;
}

/** Where and how to listen. */
export interface ListenOptions {
  hostname: string;
  port: number;
  /** Share the port with other processes or workers (Linux SO_REUSEPORT). */
  reusePort?: boolean;
}

/** Binds a TCP port with Bun.listen (throws if it cannot). */
export function listenTcp(options: ListenOptions): Listener {
  // Accepted sockets wait here for accept(); the server's accept loop takes them at once.
  const waiting: Socket[] = [];
  let acceptor: ((s: Socket | null) => void) | null = null;
  let closed = false;
  const handlers: BunSocketHandlers<BunSocket> = {
    // Chunks as plain Uint8Arrays: a Node Buffer (the default) costs more to make in Bun.
    binaryType: "uint8array",
    open(s) {
      s.setNoDelay(true);
      const socket = new BunSocket(s);
      s.data = socket;
      if (acceptor !== null) {
        const a = acceptor;
        acceptor = null;
        a(socket);
      } else waiting.push(socket);
    },
    data: (s, chunk) => s.data.onData(chunk),
    drain: (s) => s.data.onDrain(),
    end: (s) => s.data.onEnd(),
    close: (s) => s.data.onClose(),
    // A reset or another socket error: Bun calls `close` next; reads end and writes fail there.
    error: () => {},
  };
  const listener = Bun.listen<BunSocket>({
    hostname: options.hostname,
    port: options.port,
    reusePort: options.reusePort ?? false,
    allowHalfOpen: true, // a peer's FIN ends its input only: the echo of what it sent still goes
    socket: handlers,
  });
  return {
    addr: { hostname: listener.hostname, port: listener.port },
    accept(): Promise<Socket | null> {
      if (waiting.length > 0) return Promise.resolve(waiting.shift()!);
      if (closed) return Promise.resolve(null);
      return new Promise((resolve) => acceptor = resolve);
    },
    close(): void {
      if (closed) return;
      closed = true;
      listener.stop(false); // open connections are the server's to close
      for (const s of waiting.splice(0)) s.close();
      const a = acceptor;
      acceptor = null;
      a?.(null);
    },
  };
}
