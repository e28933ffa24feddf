// permessage-deflate's compression (RFC 7692 §7.2): raw DEFLATE with a sync flush per message.
//
// Built on node:zlib's native handle, driven synchronously (`handle.writeSync` with the
// `_writeState` pair [availOut, availIn] that node:zlib's own sync path uses, present in Node and
// Deno 2.9.6). Why not the public API: `inflateRawSync` keeps no context between messages (context
// takeover needs it) and decides on its own where output goes; the stream classes are
// asynchronous (a thread-pool hop per message) and buffer their output. The handle writes into
// buffers we choose, as far as we let it: inflated bytes land straight in a reassembly buffer from
// InputMemory, and inflation stops where the message limit is.

import zlib from "node:zlib";

const Z_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;

/** What a deflate message ends with after a sync flush: stripped when sent, added on receipt. */
export const DEFLATE_TAIL: Uint8Array = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** The parameters in force on one connection (RFC 7692 §7.1). */
export interface DeflateParams {
  /** The server starts every message with an empty window. */
  serverNoContextTakeover: boolean;
  /** The client does (so the server need not keep an inflate window between messages). */
  clientNoContextTakeover: boolean;
  /** The server's LZ77 window (8-15). */
  serverMaxWindowBits: number;
  /** The client's window (15 unless the response limited it). */
  clientMaxWindowBits: number;
}

/** The server's compression settings (the --deflate-* options). */
export interface DeflateOptions {
  /** Largest window the server compresses with (9-15; the response says so when below 15). */
  windowBits: number;
  /** zlib memLevel (1-9): memory of the compressor's hash tables against speed. */
  memLevel: number;
  /** Messages smaller than this go out uncompressed. */
  threshold: number;
  /** Keep compression contexts between messages (both directions); else neither side does. */
  contextTakeover: boolean;
}

/** Bytes before and after compression, process-wide (for /metrics). */
export const deflateStats = {
  /** Compressed messages received: bytes on the wire, and after inflation. */
  inWire: 0,
  inInflated: 0,
  /** Messages sent compressed: bytes before compression, and on the wire. */
  outRaw: 0,
  outWire: 0,
};

interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

interface ZlibObject {
  _handle: ZlibHandle | null;
  _writeState: Uint32Array;
}

/** True when this runtime's node:zlib has the synchronous handle this module drives. */
export function deflateSupported(): boolean {
  try {
    const z = zlib.createInflateRaw() as unknown as ZlibObject;
    const ok = typeof z._handle?.writeSync === "function" && z._writeState instanceof Uint32Array;
    z._handle?.close();
    return ok;
  } catch (err) {
    if (err instanceof TypeError) return false; // no such handle or method in this runtime
    throw err;
  }
}

/** A zlib error while inflating: the message was not valid DEFLATE data. */
export class InflateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InflateError";
  }
}

// One native zlib stream driven synchronously.
class RawZlib {
  readonly #handle: ZlibHandle;
  readonly #state: Uint32Array;
  #error: string | null = null;

  constructor(z: ZlibObject) {
    this.#handle = z._handle!;
    this.#state = z._writeState;
    // Called synchronously from writeSync on a zlib error.
    this.#handle.onerror = (message) => {
      this.#error = message;
    };
  }

  /**
   * Runs zlib over input[inOff..inEnd) into out[outOff..outEnd) with a sync flush. Returns bytes
   * written; `inputLeft` then says how much input was not consumed.
   */
  write(
    input: Uint8Array,
    inOff: number,
    inEnd: number,
    out: Uint8Array,
    outOff: number,
    outEnd: number,
  ): number {
    this.#handle.writeSync(
      Z_SYNC_FLUSH,
      input,
      inOff,
      inEnd - inOff,
      out,
      outOff,
      outEnd - outOff,
    );
    if (this.#error !== null) throw new InflateError(this.#error);
    return outEnd - outOff - this.#state[0];
  }

  /** Input bytes the last write left unconsumed. */
  get inputLeft(): number {
    return this.#state[1];
  }

  reset(): void {
    this.#handle.reset();
  }

  close(): void {
    this.#handle.close();
  }
}

/** What inflate and deflate streams share: the native stream, its reset and its end. */
class ZStream {
  constructor(protected readonly z: RawZlib) {}

  /** Forgets the window: the next message starts afresh. */
  reset(): void {
    this.z.reset();
  }

  /** Frees the native stream. */
  close(): void {
    this.z.close();
  }
}

/** A raw inflate stream: a message's compressed bytes in, its data out, as far as room allows. */
export class Inflater extends ZStream {
  readonly windowBits: number;

  constructor(windowBits: number) {
    super(new RawZlib(zlib.createInflateRaw({ windowBits }) as unknown as ZlibObject));
    this.windowBits = windowBits;
  }

  /**
   * Inflates input[inOff..inEnd) into out[outOff..outEnd); returns [written, consumed]. Output
   * stops when `out` is full (call again with the rest of the input, or with none, for more). A
   * stream ended by a final block is restarted, so what follows is inflated as a new one.
   */
  inflate(
    input: Uint8Array,
    inOff: number,
    inEnd: number,
    out: Uint8Array,
    outOff: number,
    outEnd: number,
  ): [number, number] {
    const written = this.z.write(input, inOff, inEnd, out, outOff, outEnd);
    let consumed = inEnd - inOff - this.z.inputLeft;
    if (consumed < inEnd - inOff && outOff + written < outEnd) {
      // Room left yet input refused: the DEFLATE stream ended (a block with BFINAL).
      this.z.reset();
      if (written === 0 && consumed === 0) {
        // Nothing taken even by a fresh stream would loop forever: take it as bad data.
        const w = this.z.write(input, inOff, inEnd, out, outOff, outEnd);
        consumed = inEnd - inOff - this.z.inputLeft;
        if (w === 0 && consumed === 0) throw new InflateError("inflate made no progress");
        return [w, consumed];
      }
    }
    return [written, consumed];
  }
}

/** A raw deflate stream compressing whole messages. */
export class Deflater extends ZStream {
  constructor(windowBits: number, memLevel: number) {
    // zlib refuses a raw window of 8 (it uses 9 for 8 elsewhere): a window of 9 never reaches
    // back more than 250 bytes, which a peer with a 256-byte window can follow.
    super(
      new RawZlib(
        zlib.createDeflateRaw({
          windowBits: Math.max(9, windowBits),
          memLevel,
        }) as unknown as ZlibObject,
      ),
    );
  }

  /**
   * The compressed form of `data` (without the 00 00 ff ff tail), with `headroom` free bytes
   * before it in its buffer for the frame header.
   */
  compress(data: Uint8Array, headroom: number): Uint8Array {
    let out = scratch(data.length + (data.length >>> 3) + 64);
    let size = 0, inOff = 0;
    for (;;) {
      size += this.z.write(data, inOff, data.length, out, size, out.length);
      inOff = data.length - this.z.inputLeft;
      if (size < out.length) break; // all input taken and flushed with room to spare
      const bigger = new Uint8Array(out.length * 2);
      bigger.set(out);
      out = scratchBuffer = bigger;
    }
    const length = size - DEFLATE_TAIL.length;
    const result = new Uint8Array(headroom + length);
    result.set(out.subarray(0, length), headroom);
    // A large message's scratch space is not kept for good.
    if (scratchBuffer.length > SCRATCH_KEEP) scratchBuffer = new Uint8Array(SCRATCH_SIZE);
    return result.subarray(headroom);
  }
}

// Compression output lands here first (its size is unknown until done), then is copied out at
// its exact size. Shared: compression is synchronous, so only one message uses it at a time.
const SCRATCH_SIZE = 64 * 1024;
const SCRATCH_KEEP = 1024 * 1024;
let scratchBuffer = new Uint8Array(SCRATCH_SIZE);
function scratch(atLeast: number): Uint8Array {
  if (scratchBuffer.length < atLeast) {
    scratchBuffer = new Uint8Array(Math.max(atLeast, scratchBuffer.length * 2));
  }
  return scratchBuffer;
}

// Streams without context are shared: a deflater per window and memLevel (a message is
// compressed in one synchronous call, so one is never shared by two at once); inflaters are
// pooled (a fragmented message holds one across reads).
const sharedDeflaters = new Map<string, Deflater>();
const inflaterPool = new Map<number, Inflater[]>();
const POOL_MAX = 16;

function sharedDeflater(windowBits: number, memLevel: number): Deflater {
  const key = `${windowBits}/${memLevel}`;
  let d = sharedDeflaters.get(key);
  if (d === undefined) sharedDeflaters.set(key, d = new Deflater(windowBits, memLevel));
  return d;
}

function pooledInflater(windowBits: number): Inflater {
  return inflaterPool.get(windowBits)?.pop() ?? new Inflater(windowBits);
}

function returnInflater(inf: Inflater): void {
  inf.reset();
  let pool = inflaterPool.get(inf.windowBits);
  if (pool === undefined) inflaterPool.set(inf.windowBits, pool = []);
  if (pool.length < POOL_MAX) pool.push(inf);
  else inf.close();
}

/**
 * One connection's compression, as negotiated: the inflater a compressed message is read with
 * and the deflater messages are sent with. A side that keeps no context holds no zlib stream
 * between messages (it borrows a shared or pooled one); a side that does makes its own on first
 * use and keeps it until dispose().
 */
export class PerMessageDeflate {
  readonly params: DeflateParams;
  readonly #options: DeflateOptions;
  #inflater: Inflater | null = null;
  #deflater: Deflater | null = null;

  constructor(params: DeflateParams, options: DeflateOptions) {
    this.params = params;
    this.#options = options;
  }

  /** Messages smaller than this are sent uncompressed. */
  get threshold(): number {
    return this.#options.threshold;
  }

  // Inflating with a window of at least 9 reads any stream made with a window of 8.
  #inflateBits(): number {
    return Math.max(9, this.params.clientMaxWindowBits);
  }

  /** The inflater for the message starting now (give it back with endMessage). */
  beginMessage(): Inflater {
    if (this.params.clientNoContextTakeover) return pooledInflater(this.#inflateBits());
    return this.#inflater ??= new Inflater(this.#inflateBits());
  }

  /** The message read with `inf` is complete (ok) or abandoned (not ok). */
  endMessage(inf: Inflater, ok: boolean): void {
    if (inf !== this.#inflater) {
      if (ok) returnInflater(inf);
      else inf.close(); // in an unknown state: not reused
    } else if (!ok) {
      this.#inflater = null;
      inf.close();
    }
  }

  /** `data` compressed (tail stripped), with `headroom` free bytes before it. */
  compress(data: Uint8Array, headroom: number): Uint8Array {
    const bits = this.params.serverMaxWindowBits, level = this.#options.memLevel;
    let out: Uint8Array;
    if (this.params.serverNoContextTakeover) {
      const d = sharedDeflater(bits, level);
      out = d.compress(data, headroom);
      d.reset();
    } else {
      out = (this.#deflater ??= new Deflater(bits, level)).compress(data, headroom);
    }
    deflateStats.outRaw += data.length;
    deflateStats.outWire += out.length;
    return out;
  }

  /** The connection has ended: frees the streams it kept. */
  dispose(): void {
    this.#inflater?.close();
    this.#inflater = null;
    this.#deflater?.close();
    this.#deflater = null;
  }
}
