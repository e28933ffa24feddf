// A connection's outgoing bytes: encoded batches wait here, in order, until the socket takes
// them. Small chunks waiting together are merged into one write; the holds a batch carries are
// released once its bytes are written; the output pool's buffers go back to it.

import type { EncodedBatch } from "../protocol/frame_encoder.ts";
import type { Hold } from "../protocol/frame.ts";
import { outputPool } from "./output_pool.ts";
import { PeerGone } from "./socket.ts";

// Queued chunks smaller than this are merged into one write when several are waiting.
const MERGE_LIMIT = 16 * 1024;

/** Where the queue's bytes go: a socket's write, which may take only some of them. */
export type WriteBytes = (bytes: Uint8Array) => Promise<number>;

/**
 * The write queue of one connection. `reserve` the size of a batch when it goes to the encoder,
 * then `push` the encoded batch (batches arrive in the order reserved): so `bytes` counts a
 * batch from the moment it is sent on. `full` says whether more than the limit waits,
 * `whenNotFull` waits for that to end, `whenEmpty` for the queue to empty. A failed
 * write ends it: the rest is dropped, `failed` turns true and `onFail` is called once. (A
 * failure other than PeerGone is a fault, reported with its stack.)
 */
export class WriteQueue {
  readonly #write: WriteBytes;
  readonly #onFail: () => void;
  #chunks: Uint8Array[] = [];
  // The holds to release once the chunk at the same index has been written (mostly null).
  #holds: (Hold[] | null)[] = [];
  #bytes = 0;
  // Sizes reserved for batches still in the encoder, oldest first.
  readonly #reserved: number[] = [];
  readonly #limit: number;
  #writing = false;
  #failed = false;
  #notFull: PromiseWithResolvers<void> | null = null;
  #empty: PromiseWithResolvers<void> | null = null;

  /** `limit`: bytes waiting above which the queue is full (backpressure). */
  constructor(write: WriteBytes, onFail: () => void, limit: number) {
    this.#write = write;
    this.#onFail = onFail;
    this.#limit = limit;
  }

  /** Bytes waiting to be written. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True once a write has failed (nothing more will be written). */
  get failed(): boolean {
    return this.#failed;
  }

  /** True while more than the limit waits (counting batches still being encoded). */
  get full(): boolean {
    return this.#bytes > this.#limit;
  }

  /** Counts `n` bytes for a batch on its way through the encoder (settled by its push). */
  reserve(n: number): void {
    this.#reserved.push(n);
    this.#bytes += n;
  }

  /** Queues a batch's chunks behind what is already waiting, settling its reservation. */
  push(batch: EncodedBatch): void {
    const { chunks, holds } = batch;
    this.#bytes -= this.#reserved.shift() ?? 0;
    if (this.#failed) {
      this.#releaseAll(chunks, holds.length > 0 ? holds : null);
      return;
    }
    for (let i = 0; i < chunks.length; i++) {
      this.#chunks.push(chunks[i]);
      this.#holds.push(null);
      this.#bytes += chunks[i].length;
    }
    if (holds.length > 0) {
      if (chunks.length === 0) holds.forEach(release); // nothing to wait for
      else this.#holds[this.#holds.length - 1] = holds;
    }
    if (!this.#writing) this.#writeLoop();
  }

  /** Resolves once the queue is no longer full (at once if it is not, or on failure). */
  whenNotFull(): Promise<void> {
    if (!this.full || this.#failed) return Promise.resolve();
    return (this.#notFull ??= Promise.withResolvers()).promise;
  }

  /** Resolves once everything queued has been written (or writing failed). */
  whenEmpty(): Promise<void> {
    if (this.#bytes === 0 || this.#failed) return Promise.resolve();
    return (this.#empty ??= Promise.withResolvers()).promise;
  }

  // Writes the queue in order, merging small chunks that wait together into one write.
  async #writeLoop(): Promise<void> {
    this.#writing = true;
    const q = this.#chunks;
    try {
      while (q.length > 0) {
        let chunk = q[0];
        let take = 1;
        if (q.length > 1 && chunk.length < MERGE_LIMIT) {
          let size = chunk.length;
          while (take < q.length && q[take].length < MERGE_LIMIT) size += q[take++].length;
          if (take > 1) {
            chunk = outputPool.acquire(size);
            for (let i = 0, at = 0; i < take; at += q[i].length, i++) chunk.set(q[i], at);
          }
        }
        let done = await this.#write(chunk);
        while (done < chunk.length) done += await this.#write(chunk.subarray(done));
        this.#bytes -= chunk.length;
        if (take > 1) outputPool.release(chunk);
        for (let i = 0; i < take; i++) this.#releaseFirst();
        if (this.#notFull !== null && !this.full) {
          this.#notFull.resolve();
          this.#notFull = null;
        }
      }
    } catch (err) {
      // Nothing more can be written: the peer is gone (expected), or a fault (reported).
      if (!(err instanceof PeerGone)) reportError(err);
      this.#failed = true;
      this.#bytes = 0;
      this.#reserved.fill(0); // batches still in the encoder are dropped when they arrive
      this.#releaseAll(q.splice(0), this.#holds.splice(0));
      this.#onFail();
    }
    this.#writing = false;
    if (this.#failed) {
      this.#notFull?.resolve();
      this.#notFull = null;
    }
    if (this.#bytes === 0) {
      this.#empty?.resolve();
      this.#empty = null;
    }
  }

  // The oldest chunk was written: its pool buffer goes back, and the holds it carried.
  #releaseFirst(): void {
    outputPool.release(this.#chunks.shift()!);
    const holds = this.#holds.shift();
    if (holds != null) holds.forEach(release);
  }

  // Chunks written (or dropped): the pool's buffers go back, and the holds they carried.
  #releaseAll(chunks: Uint8Array[], holds: (Hold[] | null)[] | Hold[] | null): void {
    for (let i = 0; i < chunks.length; i++) outputPool.release(chunks[i]);
    if (holds === null) return;
    for (let i = 0; i < holds.length; i++) {
      const h = holds[i];
      if (h === null) continue;
      if (Array.isArray(h)) h.forEach(release);
      else h.release();
    }
  }
}

const release = (h: Hold) => h.release();
