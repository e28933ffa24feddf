// The socket side of a WebSocket connection: reads into slab buffers and writes through
// conn.read()/conn.write() directly (Deno's conn.readable/conn.writable were measured several
// times slower for small chunks, and each stream hop costs a promise per chunk).

import type { Transport } from "../websocket/connection.ts";

// Reads go into slabs: each read takes a fresh view of the free tail of the current slab, which
// the reader then owns (the decoder unmasks in place and payloads travel on as views), so no
// byte is copied out of the read buffer. A slab is reused from its start only when the caller
// says that no view of it is alive any more (recycle), and never once it was held. An idle
// connection parks only a small slab; one that fills its reads moves up to larger ones.
const SMALL_SLAB = 1024;
// (Kept below glibc's 128 KiB mmap threshold: larger ones are mapped and unmapped each time.)
const LARGE_SLAB = 120 * 1024;
// A tail smaller than this is abandoned for a fresh slab: a small slab's last few hundred bytes;
// a large slab's last quarter, so that a streaming read is not cut short (a cut message costs
// another read and a reassembly copy).
const MIN_READ_SMALL = 256;
const MIN_READ_LARGE = 32 * 1024;

/** The part of a Deno.Conn the transport needs (so that tests can stand in for it). */
export interface ByteConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

/** Reads a connection chunk by chunk into slabs; every chunk returned is the caller's to keep. */
export class SlabReader {
  readonly #conn: ByteConn;
  #slab: Uint8Array;
  #used = 0;
  #large = false;
  #held = false; // a chunk of the current slab is still in use somewhere: never rewind it
  #at = 0; // where the read in progress goes

  constructor(conn: ByteConn) {
    this.#conn = conn;
    this.#slab = new Uint8Array(SMALL_SLAB);
  }

  /** Marks the current slab as still referenced: later reads never write over it. */
  hold(): void {
    this.#held = true;
  }

  /** Lets the next read reuse the current slab from its start, unless it is held. */
  recycle(): void {
    if (!this.#held) this.#used = 0;
  }

  /** Reads into `into` (a view of its start is returned); null at end of stream or failure. */
  readInto(into: Uint8Array): Promise<Uint8Array | null> {
    return this.#conn.read(into).then(
      (n) => n === null ? null : new Uint8Array(into.buffer, into.byteOffset, n),
      toNull,
    );
  }

  /** Reads the next chunk; null at end of stream (or when the socket fails). */
  read(): Promise<Uint8Array | null> {
    if (this.#slab.length - this.#used < (this.#large ? MIN_READ_LARGE : MIN_READ_SMALL)) {
      this.#slab = new Uint8Array(this.#large ? LARGE_SLAB : SMALL_SLAB);
      this.#used = 0;
      this.#held = false;
    }
    this.#at = this.#used;
    // Not an async function: a suspended frame would be parked on every idle connection.
    return this.#conn.read(this.#slab.subarray(this.#at)).then(this.#onRead, toNull);
  }

  #onRead = (n: number | null): Uint8Array | null => {
    if (n === null) return null;
    const slab = this.#slab, at = this.#at;
    // A read that filled its space means data is streaming: use large slabs from now on.
    if (n === slab.length - at) this.#large = true;
    this.#used = at + n;
    return new Uint8Array(slab.buffer, at, n);
  };
}

// A reset, or a socket closed under a read: the end of input all the same.
const toNull = () => null;

/**
 * A Transport over `conn`: `first` (bytes that arrived with the HTTP head) is read before
 * anything else. A read or write on a socket that was reset or closed ends the stream (null)
 * or throws; close() may be called any number of times. (A class, not closures: its methods
 * are shared by every connection instead of allocated for each.)
 */
export class TcpTransport implements Transport {
  readonly #conn: ByteConn;
  readonly #reader: SlabReader;
  #first: Uint8Array | null;
  #closed = false;

  constructor(conn: ByteConn, reader: SlabReader, first: Uint8Array) {
    this.#conn = conn;
    this.#reader = reader;
    this.#first = first.length > 0 ? first : null;
  }

  read(into?: Uint8Array): Promise<Uint8Array | null> {
    const first = this.#first;
    if (first === null) {
      return into === undefined ? this.#reader.read() : this.#reader.readInto(into);
    }
    this.#first = null;
    return Promise.resolve(first);
  }

  hold(): void {
    this.#reader.hold();
  }

  recycle(): void {
    // The bytes that came with the HTTP head are a view of the reader's slab: until they have
    // been handed out (and then held or given back), the slab must not be rewound under them.
    if (this.#first === null) this.#reader.recycle();
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#conn.write(bytes);
  }

  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}
