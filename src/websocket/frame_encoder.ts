// Frames → bytes (RFC 6455 §5.2), coalescing small frames so that a batch costs one write.

import type { OutFrame } from "./frame.ts";
import { outputPool } from "./buffer_pool.ts";

// A payload at least this large is passed on as its own chunk (a view, not copied); smaller
// ones are copied into the shared write buffer, which is cheaper than an extra write.
export const COALESCE_LIMIT = 64 * 1024;

/** Size of the header the server writes for a payload of `length` bytes (never masked). */
export function headerLength(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/** Writes the header of an unmasked frame at buf[at]; returns the position after it. */
export function writeHeader(
  buf: Uint8Array,
  at: number,
  opcode: number,
  fin: boolean,
  length: number,
): number {
  buf[at] = (fin ? 0x80 : 0) | opcode;
  if (length < 126) {
    buf[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    buf[at + 1] = 126;
    buf[at + 2] = length >>> 8;
    buf[at + 3] = length & 0xff;
    return at + 4;
  }
  buf[at + 1] = 127;
  const hi = Math.floor(length / 0x1_0000_0000);
  buf[at + 2] = hi >>> 24;
  buf[at + 3] = (hi >>> 16) & 0xff;
  buf[at + 4] = (hi >>> 8) & 0xff;
  buf[at + 5] = hi & 0xff;
  buf[at + 6] = length >>> 24;
  buf[at + 7] = (length >>> 16) & 0xff;
  buf[at + 8] = (length >>> 8) & 0xff;
  buf[at + 9] = length & 0xff;
  return at + 10;
}

/**
 * Encodes `frames` in order into as few chunks as possible: consecutive small frames share one
 * buffer; a large payload follows its header as a separate view. The coalesced buffers come from
 * `outputPool`: whoever writes them should release them afterwards.
 */
export function encodeFrames(frames: readonly OutFrame[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  while (start < frames.length) {
    // Size the run of frames that ends with the first large payload (or the batch).
    let size = 0, end = start;
    let large: Uint8Array | null = null;
    for (; end < frames.length; end++) {
      const len = frames[end].payload.length;
      size += headerLength(len);
      if (len >= COALESCE_LIMIT) {
        large = frames[end].payload;
        end++;
        break;
      }
      size += len;
    }
    const buf = outputPool.acquire(size);
    let at = 0;
    for (let i = start; i < end; i++) {
      const f = frames[i];
      at = writeHeader(buf, at, f.opcode, f.fin, f.payload.length);
      if (large === null || i < end - 1) {
        buf.set(f.payload, at);
        at += f.payload.length;
      }
    }
    chunks.push(buf);
    if (large !== null) chunks.push(large);
    start = end;
  }
  return chunks;
}

/**
 * Web Streams shell around encodeFrames: a batch of frames in, the batch's byte chunks out (one
 * array per batch, to be written in order).
 */
export class FrameEncoder extends TransformStream<OutFrame[], Uint8Array[]> {
  readonly #count: { batches: number };

  constructor() {
    const count = { batches: 0 };
    super({
      transform(frames, controller) {
        controller.enqueue(encodeFrames(frames));
        count.batches++;
      },
    });
    this.#count = count;
  }

  /** Batches encoded so far: once it counts a batch, its small payloads have been copied. */
  get batches(): number {
    return this.#count.batches;
  }
}
