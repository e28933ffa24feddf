// Deno's TLS listener behind the core's Listener: the same server, page and endpoints over HTTPS
// and wss://. TLS ends here; the core still sees plain bytes and parses HTTP itself. The
// certificate pair can be reloaded (SIGHUP in main.ts) without dropping open connections.

import { type Listener, PeerGone, type Socket } from "../../connection/socket.ts";
import { closeListener, DenoSocket, type ListenOptions } from "./tcp.ts";

/** Where to listen, and the PEM files of the certificate chain and its private key. */
export interface TlsListenOptions extends ListenOptions {
  certFile: string;
  keyFile: string;
}

/** A TLS listener whose certificate pair can be read again from its files. */
export interface TlsListener extends Listener {
  /**
   * Reads the pair again and serves new connections with it; open ones keep theirs. A pair that
   * cannot be read or used is refused (the error is thrown) and the old one stays.
   */
  reload(): Promise<void>;
}

/** A certificate pair file that could not be read, or a pair that TLS refuses. */
export class TlsFilesError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TlsFilesError";
  }
}

// A client that fails the TLS handshake, or breaks the record layer, is one that went away.
function isTlsFailure(err: unknown): boolean {
  return err instanceof Deno.errors.InvalidData || err instanceof Deno.errors.UnexpectedEof;
}

/** A TLS connection: a DenoSocket whose TLS failures count as the peer going away. */
class TlsSocket implements Socket {
  readonly #inner: DenoSocket;
  readonly remote: { hostname: string; port: number };

  constructor(conn: Deno.TlsConn) {
    this.#inner = new DenoSocket(conn);
    this.remote = this.#inner.remote;
  }

  read(into: Uint8Array): Promise<number | null> {
    return this.#inner.read(into).catch((err) => {
      if (isTlsFailure(err)) return null;
      throw err;
    });
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#inner.write(bytes).catch(tlsGone);
  }

  closeWrite(): Promise<void> {
    return this.#inner.closeWrite().catch(tlsGone);
  }

  close(): void {
    this.#inner.close();
  }
}

function tlsGone(err: unknown): never {
  throw isTlsFailure(err) ? new PeerGone(err) : err;
}

/** Reads a PEM file, naming the option it came from when that fails. */
async function readPem(path: string, option: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new TlsFilesError(`${option} ${path}: no such file`, { cause: err });
    }
    if (err instanceof Deno.errors.NotCapable) {
      throw new TlsFilesError(
        `${option} ${path}: Deno may not read it (run with --allow-read=src,${path}; see README, TLS)`,
        { cause: err },
      );
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new TlsFilesError(`${option} ${path}: permission denied`, { cause: err });
    }
    throw err;
  }
}

async function readPair(o: TlsListenOptions): Promise<{ cert: string; key: string }> {
  return { cert: await readPem(o.certFile, "--cert"), key: await readPem(o.keyFile, "--key") };
}

function open(o: TlsListenOptions, pair: { cert: string; key: string }, port: number) {
  try {
    return o.reusePort
      ? Deno.listenTls({ hostname: o.hostname, port, reusePort: true, ...pair })
      : Deno.listenTls({ hostname: o.hostname, port, ...pair });
  } catch (err) {
    // What rustls says of a file that is not a PEM certificate chain or key, or of a mismatch.
    if (err instanceof Deno.errors.InvalidData) {
      throw new TlsFilesError(
        `--cert ${o.certFile} / --key ${o.keyFile}: not a usable pair (${err.message})`,
        { cause: err },
      );
    }
    throw err;
  }
}

// Deno releases a closed listener's port once its pending accept has ended, a moment later:
// until then binding it again fails with AddrInUse.
const REBIND_TRIES = 100;
const REBIND_WAIT_MS = 10;

async function reopen(o: TlsListenOptions, pair: { cert: string; key: string }, port: number) {
  for (let i = 1;; i++) {
    try {
      return open(o, pair, port);
    } catch (err) {
      if (!(err instanceof Deno.errors.AddrInUse) || i === REBIND_TRIES) throw err;
      await new Promise((resolve) => setTimeout(resolve, REBIND_WAIT_MS));
    }
  }
}

/** Binds a TLS port with the pair read from its files (throws TlsFilesError, AddrInUse, ...). */
export async function listenTls(options: TlsListenOptions): Promise<TlsListener> {
  let listener = open(options, await readPair(options), options.port);
  const addr = { hostname: listener.addr.hostname, port: listener.addr.port };
  let closed = false;
  let replacing: Promise<void> | null = null; // a reload between closing and reopening
  return {
    addr,
    async accept(): Promise<Socket | null> {
      for (;;) {
        const current = listener;
        let conn: Deno.TlsConn;
        try {
          conn = await current.accept();
        } catch (err) {
          if (!(err instanceof Deno.errors.BadResource)) throw err;
          if (closed) return null; // the listener was closed
          if (replacing !== null) await replacing;
          else if (current === listener) throw err;
          continue; // replaced by a reload: accept from the new one
        }
        // (Deno.TlsConn has no setNoDelay: TLS sockets keep Nagle's algorithm.)
        return new TlsSocket(conn);
      }
    },
    async reload(): Promise<void> {
      const pair = await readPair(options);
      // Tried on a port of its own first, so that a bad pair never leaves us without a listener.
      open(options, pair, 0).close();
      if (closed || replacing !== null) return;
      const done = Promise.withResolvers<void>();
      replacing = done.promise;
      try {
        listener.close();
        listener = await reopen(options, pair, addr.port);
      } finally {
        replacing = null;
        done.resolve();
      }
    },
    close(): void {
      if (closed) return;
      closed = true;
      closeListener(listener);
    },
  };
}
