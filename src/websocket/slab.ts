// Small buffers as views of shared slabs: in Deno a fresh Uint8Array costs hundreds of
// nanoseconds (a new backing store), a view of an existing buffer a few tens.

/**
 * Hands out byte views carved from a shared slab, allocating a new slab when the current one is
 * used up. Views are never reused: a slab is freed by the garbage collector once no view of it
 * is alive, so a view may be kept as long as its holder likes.
 */
export class SlabAllocator {
  readonly #slabSize: number;
  #buffer: ArrayBuffer;
  #used = 0;

  constructor(slabSize = 64 * 1024) {
    this.#slabSize = slabSize;
    this.#buffer = new ArrayBuffer(slabSize);
  }

  /** A view of `n` bytes that nothing else uses (its contents are unspecified: overwrite them). */
  alloc(n: number): Uint8Array {
    if (n > this.#slabSize >>> 2) return new Uint8Array(n);
    if (this.#used + n > this.#slabSize) {
      this.#buffer = new ArrayBuffer(this.#slabSize);
      this.#used = 0;
    }
    const view = new Uint8Array(this.#buffer, this.#used, n);
    this.#used += n;
    return view;
  }
}
