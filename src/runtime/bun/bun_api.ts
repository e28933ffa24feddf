// The few parts of Bun's API that src/runtime/bun/ uses, typed here so that `deno check` covers
// this folder without Bun's own type package (a dependency the project does without). Checked
// against Bun 1.4.5's behaviour: write() returns the bytes the kernel took (0 when its buffer is
// full, -1 once closed) and keeps nothing back; each `data` chunk is fresh (ours to keep).

/** A TCP socket of Bun.listen; `data` is what the handlers attach to it. */
export interface BunTcpSocket<T> {
  data: T;
  /** Bytes the kernel accepted: fewer than asked (0 when full, then `drain`), -1 when closed. */
  write(bytes: Uint8Array): number;
  /** Sends FIN; the socket stays readable. */
  shutdown(): void;
  /** Closes gracefully (FIN); `close` follows. */
  end(): void;
  /** Stops and resumes `data` events (removes the socket from the poller's read interest). */
  pause(): void;
  resume(): void;
  setNoDelay(on: boolean): boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

/** The handlers a Bun listener calls for every socket. */
export interface BunSocketHandlers<T> {
  /** What `data` chunks are: "buffer" (a Node Buffer, the default) or a plain "uint8array". */
  binaryType?: "buffer" | "uint8array";
  open(socket: BunTcpSocket<T>): void;
  data(socket: BunTcpSocket<T>, chunk: Uint8Array): void;
  drain(socket: BunTcpSocket<T>): void;
  /** The peer sent FIN (with allowHalfOpen, the socket stays writable). */
  end(socket: BunTcpSocket<T>): void;
  close(socket: BunTcpSocket<T>, error?: Error): void;
  error(socket: BunTcpSocket<T>, error: Error): void;
}

/** A listening socket of Bun.listen. */
export interface BunTcpListener {
  readonly hostname: string;
  readonly port: number;
  /** Stops accepting; open sockets stay open unless asked. */
  stop(closeActiveConnections?: boolean): void;
}

/** `Bun`, as far as wsecho uses it. */
export interface BunGlobal {
  readonly version: string;
  listen<T>(options: {
    hostname: string;
    port: number;
    reusePort?: boolean;
    allowHalfOpen?: boolean;
    socket: BunSocketHandlers<T>;
  }): BunTcpListener;
}
