// Deno's TCP sockets behind the core's Socket and Listener interfaces. Reads and writes go
// through conn.read()/conn.write() directly: Deno's conn.readable/conn.writable were measured
// several times slower for small chunks, and each stream hop costs a promise per chunk.

import { type Listener, PeerGone, type Socket } from "../../connection/socket.ts";

/** A Deno TCP (or TLS) connection as a Socket. */
export class DenoSocket implements Socket {
  readonly #conn: Deno.Conn<Deno.NetAddr>;
  readonly remote: { hostname: string; port: number };
  #closed = false;

  constructor(conn: Deno.Conn<Deno.NetAddr>) {
    this.#conn = conn;
    this.remote = { hostname: conn.remoteAddr.hostname, port: conn.remoteAddr.port };
  }

  read(into: Uint8Array): Promise<number | null> {
    return this.#conn.read(into).catch(endOfInput);
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#conn.write(bytes).catch(peerGone);
  }

  closeWrite(): Promise<void> {
    return this.#conn.closeWrite().catch(peerGone);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch (err) {
      // Closed already by Deno (the peer reset it): nothing left to release.
      if (!(err instanceof Deno.errors.BadResource)) throw err;
    }
  }
}

// The errors of a socket whose peer reset it or cannot be reached any more (retransmissions
// timed out, the route went away), or that we closed under a pending operation.
function isGone(err: unknown): boolean {
  const e = Deno.errors;
  return err instanceof e.ConnectionReset || err instanceof e.BrokenPipe ||
    err instanceof e.BadResource || err instanceof e.Interrupted ||
    err instanceof e.NotConnected || err instanceof e.ConnectionAborted ||
    err instanceof e.TimedOut || err instanceof e.NetworkUnreachable ||
    err instanceof e.UnexpectedEof;
}

// On a read, that is the end of input all the same.
function endOfInput(err: unknown): null {
  if (isGone(err)) return null;
  throw err;
}

function peerGone(err: unknown): never {
  throw isGone(err) ? new PeerGone(err) : err;
}

/** Where and how to listen. */
export interface ListenOptions {
  hostname: string;
  port: number;
  /** Share the port with other processes or workers (Linux SO_REUSEPORT). */
  reusePort?: boolean;
}

/** Binds a TCP port (throws Deno.errors.AddrInUse and the like). */
export function listenTcp(options: ListenOptions): Listener {
  const listener = options.reusePort
    ? Deno.listen({ hostname: options.hostname, port: options.port, reusePort: true })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = { hostname: listener.addr.hostname, port: listener.addr.port };
  let closed = false;
  return {
    addr,
    async accept(): Promise<Socket | null> {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (err instanceof Deno.errors.BadResource) return null; // the listener was closed
        throw err;
      }
      conn.setNoDelay(true);
      return new DenoSocket(conn);
    },
    close(): void {
      if (closed) return;
      closed = true;
      closeListener(listener);
    },
  };
}

/** Closes a Deno listener; one already closed is left as it is. */
export function closeListener(listener: Deno.Listener): void {
  try {
    listener.close();
  } catch (err) {
    if (!(err instanceof Deno.errors.BadResource)) throw err;
  }
}
