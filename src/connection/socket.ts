// The seam between the runtime-neutral core and a runtime's sockets (src/runtime/*).

/** What a Socket's write or closeWrite rejects with when the peer is gone (reset, closed). */
export class PeerGone extends Error {
  constructor(cause: unknown) {
    super("the peer is gone", { cause });
    this.name = "PeerGone";
  }
}

/** An accepted byte-stream connection: the only I/O the core does. */
export interface Socket {
  /** Reads into `into`; resolves with the byte count, or null at end of input or on a reset. */
  read(into: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes`; resolves with how many. Rejects with PeerGone when it is gone. */
  write(bytes: Uint8Array): Promise<number>;
  /** Sends FIN after the last byte written: the peer may still send. Rejects with PeerGone. */
  closeWrite(): Promise<void>;
  /** Closes the socket; any number of calls. */
  close(): void;
  /** The peer's address. */
  readonly remote: { hostname: string; port: number };
}

/** A listening socket. */
export interface Listener {
  /** The next connection, or null once the listener is closed. */
  accept(): Promise<Socket | null>;
  /** Stops listening; any number of calls. */
  close(): void;
  /** The bound address (the real port when 0 was asked for). */
  readonly addr: { hostname: string; port: number };
}
