// Reusable output buffers. Encoded frames live only until they are written, so their memory can
// be handed back and used again: fresh buffers cost an allocation, zero-filling and, through V8's
// external-memory accounting, extra garbage collections.

const MIN_CLASS = 256;
const MAX_CLASS = 64 * 1024;
// Free buffers kept per size class, and in all: enough for bursts, small next to the RSS budget.
const MAX_FREE_PER_CLASS = 64;
const MAX_FREE_BYTES = 4 * 1024 * 1024;

/**
 * A pool of byte buffers in power-of-two size classes (256 B to 64 KiB). acquire() gives a view
 * of exactly the size asked for; release() returns its buffer for reuse. Requests above the
 * largest class get a plain allocation, which release() ignores, as it ignores any view the
 * pool did not hand out.
 */
export class BufferPool {
  readonly #free: ArrayBuffer[][] = [];
  // The buffers handed out, with their size class: release() learns both in one lookup, without
  // reading byteLength (on Bun a native getter call, not inlined).
  readonly #owned = new WeakMap<ArrayBuffer, number>();
  #freeBytes = 0;

  constructor() {
    for (let size = MIN_CLASS; size <= MAX_CLASS; size *= 2) this.#free.push([]);
  }

  /** A view of `n` bytes (contents unspecified: overwrite them). */
  acquire(n: number): Uint8Array {
    if (n > MAX_CLASS) return new Uint8Array(n);
    const cls = classOf(n);
    const list = this.#free[cls];
    let buf = list.pop();
    if (buf === undefined) {
      buf = new ArrayBuffer(MIN_CLASS << cls);
      this.#owned.set(buf, cls);
    } else {
      this.#freeBytes -= MIN_CLASS << cls;
    }
    return new Uint8Array(buf, 0, n);
  }

  /** True when `view` is of a buffer this pool handed out. */
  owns(view: Uint8Array): boolean {
    return this.#owned.has(view.buffer as ArrayBuffer);
  }

  /**
   * Returns the buffer behind `view` for reuse; the caller must not touch the view again.
   * False when the pool did not hand it out (then it is left alone).
   */
  release(view: Uint8Array): boolean {
    const buf = view.buffer as ArrayBuffer;
    const cls = this.#owned.get(buf);
    if (cls === undefined) return false;
    const list = this.#free[cls], size = MIN_CLASS << cls;
    if (list.length >= MAX_FREE_PER_CLASS || this.#freeBytes + size > MAX_FREE_BYTES) {
      return true; // let the garbage collector have it
    }
    list.push(buf);
    this.#freeBytes += size;
    return true;
  }
}

function classOf(n: number): number {
  return n <= MIN_CLASS ? 0 : 32 - Math.clz32(n - 1) - 8;
}

/** The pool shared by every connection of this isolate. */
export const outputPool = new BufferPool();
