// The one owner of a connection's input memory: the slabs that reads land in and the buffers
// that messages are reassembled in. Everything that still needs some of those bytes (a message
// the application holds, a payload waiting to be written, a reassembly in progress) holds a
// claim on the block they are in; a block is reused only once every claim is released. The
// bytes of live blocks count against the connection's budget and the process-wide one.

import type { Hold } from "../protocol/frame.ts";
import { type AllocateMessage, HEADROOM, type MessageBuffer } from "../protocol/session.ts";

// Reads go into slabs: each read takes the free tail of the current slab, which is rewound to
// its start only when no claim on it is left. An idle connection parks only a small slab; one
// whose reads fill their space moves up to larger ones.
const SMALL_SLAB = 1024;
// (Kept below glibc's 128 KiB mmap threshold: larger ones are mapped and unmapped each time.)
const LARGE_SLAB = 120 * 1024;
// A tail smaller than this is abandoned for a fresh slab: a small slab's last few hundred bytes;
// a large slab's last quarter, so that a streaming read is not cut short (a cut message costs
// another read and a reassembly copy).
const MIN_READ_SMALL = 256;
const MIN_READ_LARGE = 32 * 1024;

/** Bytes of input memory held by every connection of this isolate, against one limit. */
export class MemoryBudget {
  #held = 0;
  #peak = 0;

  /** `limit`: bytes that all connections together may hold (Infinity for no limit). */
  constructor(readonly limit: number = Infinity) {}

  /** Bytes held now. */
  get held(): number {
    return this.#held;
  }

  /** The most bytes held at once so far. */
  get peak(): number {
    return this.#peak;
  }

  /** Takes `n` bytes if the limit allows; false (and nothing taken) if not. */
  take(n: number): boolean {
    if (this.#held + n > this.limit) return false;
    this.#held += n;
    if (this.#held > this.#peak) this.#peak = this.#held;
    return true;
  }

  /** Takes `n` bytes whatever the limit: memory without which a connection cannot go on. */
  force(n: number): void {
    this.#held += n;
    if (this.#held > this.#peak) this.#peak = this.#held;
  }

  /** Gives back `n` bytes taken earlier. */
  give(n: number): void {
    this.#held -= n;
  }
}

/** The budget of connections that are given none of their own (tests, benchmarks). */
export const unlimitedBudget = new MemoryBudget();

/** A block of input memory: a read slab, or a message buffer. Its claims are counted. */
class Block implements MessageBuffer {
  /** Claims not yet released. */
  claims = 0;
  /** Handed to the application for good: never reused, and forgotten once no longer current. */
  kept = false;
  /** Still counted by its owner. */
  counted = true;
  /**
   * The memory under `bytes` (which grow() replaces by views of the same buffer), kept so that
   * claim() reads the getter once per view instead of once per block: on Bun the `buffer`
   * getter is a native call that is not inlined.
   */
  readonly buffer: ArrayBufferLike;

  constructor(
    readonly owner: InputMemory,
    /** The data area: the whole slab, or a message buffer after its HEADROOM bytes. */
    public bytes: Uint8Array,
    readonly headroom: number,
  ) {
    this.buffer = bytes.buffer;
  }

  /**
   * A message buffer grows in place (its ArrayBuffer is resizable); false over the budget, null
   * when it cannot grow that far (the Session then moves to a larger buffer).
   */
  grow(size: number): boolean | null {
    const buffer = this.bytes.buffer as ArrayBuffer;
    if (this.headroom + size > buffer.maxByteLength) return null;
    if (!this.owner.charge(this.headroom + size - buffer.byteLength)) return false;
    buffer.resize(this.headroom + size);
    this.bytes = new Uint8Array(buffer, this.headroom, size);
    return true;
  }

  /** Size counted against the budgets. */
  get size(): number {
    return this.bytes.buffer.byteLength;
  }

  share(): Block {
    this.claims++;
    return this;
  }

  release(): void {
    if (--this.claims < 0) throw new Error("input memory released more often than claimed");
    if (this.claims === 0) this.owner.unclaimed(this);
  }
}

/**
 * The input memory of one connection. Reads: `readBuffer()` then `commit(n)`. Claims: `claim`
 * (on any view of a live block), `keep` (the application keeps a message), and Hold.release().
 * Message buffers: `allocateMessage`. `dispose()` when the connection ends.
 */
export class InputMemory {
  readonly #budget: MemoryBudget;
  #slab: Block;
  #used = 0; // bytes of the slab read into so far
  #at = 0; // where the read in progress goes
  #large = false;
  #filled = 0; // reads in a row that filled their room
  // Blocks besides the slab that are still counted: slabs left with claims on them, message
  // buffers in use or free for reuse. (Null while there are none: most connections.)
  #others: Block[] | null = null;
  #bytes = 0;
  #disposed = false;
  /** The last message buffer the budget refused (for the log): bytes wanted, held, limit. */
  refused: { wanted: number; held: number; limit: number } | null = null;

  constructor(budget: MemoryBudget = unlimitedBudget) {
    this.#budget = budget;
    this.#slab = this.#newSlab(SMALL_SLAB);
  }

  /** Bytes of input memory this connection holds. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Room for the next read: the current slab's free tail, or a fresh slab. */
  readBuffer(): Uint8Array {
    const slab = this.#slab;
    if (slab.claims === 0 && !slab.kept) {
      this.#used = 0; // nothing in it is needed any more
      // Quiet since trim(): go back to a small slab. (Here, not in trim(): an idle connection
      // has a read pending into the current slab, and that memory must stay where it is.)
      if (!this.#large && slab.bytes.length > SMALL_SLAB) {
        this.#forget(slab);
        this.#slab = this.#newSlab(SMALL_SLAB);
      }
    }
    if (this.#slab.bytes.length - this.#used < (this.#large ? MIN_READ_LARGE : MIN_READ_SMALL)) {
      this.#retire(this.#slab);
      this.#slab = this.#newSlab(this.#large ? LARGE_SLAB : SMALL_SLAB);
      this.#used = 0;
    }
    this.#at = this.#used;
    // The whole slab is its own view (a view fewer per read: on Bun, whose young collections
    // cost in proportion to the bytes allocated, that counts).
    return this.#at === 0 ? this.#slab.bytes : this.#slab.bytes.subarray(this.#at);
  }

  /** The `n` bytes the last read put into readBuffer()'s room, as a chunk. */
  commit(n: number): Uint8Array {
    const slab = this.#slab.bytes, at = this.#at;
    // Two reads in a row that filled their room mean data is streaming: use large slabs from
    // now on. (One is not enough: a single message just over a small slab would move every
    // connection that sent one to 120 KiB slabs, and keep them there while idle.)
    if (n < slab.length - at) this.#filled = 0;
    else if (++this.#filled >= 2) this.#large = true;
    this.#used = at + n;
    return slab.subarray(at, at + n);
  }

  /** A claim on the block holding `view`, or null when it is not this connection's input. */
  claim(view: Uint8Array): Hold | null {
    const buffer = view.buffer;
    let block: Block | null = null;
    const others = this.#others;
    if (this.#slab.buffer === buffer) block = this.#slab;
    else if (others !== null) {
      for (let i = 0; i < others.length; i++) {
        if (others[i].buffer === buffer) block = others[i];
      }
    }
    if (block === null || this.#disposed) return null;
    block.claims++;
    return block;
  }

  /**
   * Turns a claim into the application's for good (it kept a message without handing it back):
   * the block is never reused, and this connection stops counting it once it is not current.
   */
  keep(hold: Hold): void {
    const block = hold as Block;
    block.kept = true;
    block.release();
  }

  /**
   * A reassembly buffer for at least `size` bytes (a free one is reused); null over budget.
   * Its memory is a resizable ArrayBuffer of at most HEADROOM + `max` bytes: it grows in place,
   * and V8 maps it page by page outside malloc's heap, so that it goes back to the system when
   * freed (large malloc'd buffers freed in the middle of the heap stay resident).
   */
  allocateMessage: AllocateMessage = (size, max) => {
    const spare = this.#spare();
    if (spare !== null) {
      if (spare.bytes.length >= size) {
        spare.claims = 1;
        return spare;
      }
      this.#forget(spare); // too small: the buffer made below replaces it
    }
    const total = HEADROOM + size;
    if (!this.charge(total)) return null;
    const block = new Block(
      this,
      new Uint8Array(reserve(total, HEADROOM + Math.max(max, size)), HEADROOM, size),
      HEADROOM,
    );
    block.claims = 1;
    (this.#others ??= []).push(block);
    return block;
  };

  /** Counts `n` more bytes of message memory, if the budget allows (for Block.grow). */
  charge(n: number): boolean {
    if (this.#disposed) return false;
    if (!this.#budget.take(n)) {
      this.refused = { wanted: n, held: this.#budget.held, limit: this.#budget.limit };
      return false;
    }
    this.#bytes += n;
    return true;
  }

  /**
   * Lets go of what an idle connection need not park: a free message buffer now, a large slab
   * at the next read (a read may be pending into it now).
   */
  trim(): void {
    const spare = this.#spare();
    if (spare !== null) this.#forget(spare);
    this.#large = false;
  }

  /** The connection has ended: every block stops counting, whatever claims are left. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#budget.give(this.#bytes);
    this.#bytes = 0;
    const others = this.#others;
    this.#others = null;
    // Message buffers nobody needs are freed now, not at some later garbage collection: a
    // process that held many large messages goes back to its idle size when they leave.
    if (others !== null) { for (const b of others) if (b.claims === 0) free(b); }
  }

  /** Called by a block whose last claim was released. */
  unclaimed(block: Block): void {
    if (block === this.#slab) return; // rewound by the next read
    if (this.#disposed) return free(block);
    // A retired slab or a kept block will never be used again by us.
    if (block.kept || block.headroom === 0) return this.#forget(block);
    // A free message buffer is kept for the next large message: the larger of two.
    const spare = this.#spare(block);
    if (spare !== null) this.#forget(spare.size < block.size ? spare : block);
  }

  // A free message buffer other than `except`, if there is one (there is at most one).
  #spare(except: Block | null = null): Block | null {
    const others = this.#others;
    if (others === null) return null;
    for (let i = 0; i < others.length; i++) {
      const b = others[i];
      if (b !== except && b.claims === 0 && !b.kept && b.headroom > 0) return b;
    }
    return null;
  }

  #newSlab(size: number): Block {
    // A slab is counted whatever the budget says: without one, nothing can be read, not even
    // the close frame that ends the connection.
    if (!this.#disposed) this.#budget.force(size);
    this.#bytes += size;
    return new Block(this, new Uint8Array(size), 0);
  }

  // A slab being replaced: forgotten now if nothing needs it, else when its last claim goes.
  #retire(slab: Block): void {
    if (slab.claims === 0 || slab.kept) this.#forget(slab);
    else (this.#others ??= []).push(slab);
  }

  #forget(block: Block): void {
    if (!block.counted) return;
    block.counted = false;
    const others = this.#others;
    if (others !== null) {
      const i = others.indexOf(block);
      if (i !== -1) others.splice(i, 1);
      if (others.length === 0) this.#others = null;
    }
    if (this.#disposed) return;
    this.#bytes -= block.size;
    this.#budget.give(block.size);
    if (block.claims === 0) free(block);
  }
}

// A resizable ArrayBuffer of `length` bytes that can grow to `max`. V8 reserves address space
// for `max` up front, from a process-wide allowance it shares with WebAssembly memories; when
// that runs out (a huge --max-message times many connections), a fixed buffer does instead.
function reserve(length: number, max: number): ArrayBuffer {
  if (max <= length) return new ArrayBuffer(length); // it will never grow
  try {
    return new ArrayBuffer(length, { maxByteLength: max });
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return new ArrayBuffer(length);
  }
}

// Frees a message buffer's memory at once (detaching it) when nothing can still see it: a
// large ArrayBuffer waits for a major garbage collection otherwise, which an idle process may
// not have for a long time. Slabs and kept blocks are left to the collector.
function free(block: Block): void {
  if (block.headroom === 0 || block.kept || block.claims !== 0) return;
  const buffer = block.bytes.buffer as ArrayBuffer;
  if (!buffer.detached) buffer.transferToFixedLength(0);
}
