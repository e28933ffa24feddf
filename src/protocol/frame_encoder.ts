// Frames → bytes (RFC 6455 §5.2), coalescing small frames so that a batch costs one write.

import {
  CODEC_READABLE_STRATEGY,
  CODEC_WRITABLE_STRATEGY,
  type Hold,
  type OutFrame,
} from "./frame.ts";
import { applyMask } from "./mask.ts";

// A payload at least this large is passed on as its own chunk (a view, not copied); smaller
// ones are copied into the shared write buffer, which is cheaper than an extra write.
export const COALESCE_LIMIT = 64 * 1024;
// A frame alone in its batch with at least this much payload, and room for its header before
// the payload, goes out in place: header written into that room, nothing copied.
export const IN_PLACE_MIN = 4 * 1024;

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
  rsv1 = false,
): number {
  buf[at] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
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

/** Gives a buffer of exactly `n` bytes for coalesced frames (contents unspecified). */
export type Acquire = (n: number) => Uint8Array;

/** One batch of frames encoded: byte chunks to write in order, and the holds they still need. */
export interface EncodedBatch {
  chunks: Uint8Array[];
  /** Claims on payloads that went out uncopied: release them once `chunks` are written. */
  holds: Hold[];
}

const allocate: Acquire = (n) => new Uint8Array(n);

/**
 * Encodes `frames` in order into as few chunks as possible: consecutive small frames share one
 * buffer from `acquire`; a large payload follows its header as a separate view. A frame's hold
 * is released as soon as its payload is copied, or moved to the batch when it is not.
 */
export function encodeFrames(
  frames: readonly OutFrame[],
  acquire: Acquire = allocate,
): EncodedBatch {
  const holds: Hold[] = [];
  if (frames.length === 1) {
    const f = frames[0];
    if (f.payload.length >= IN_PLACE_MIN) {
      const inPlace = headedInPlace(f);
      if (inPlace !== null) {
        if (f.hold) holds.push(f.hold);
        return { chunks: [inPlace], holds };
      }
    }
  }
  const chunks: Uint8Array[] = [];
  let start = 0;
  while (start < frames.length) {
    // Size the run of frames that ends with the first large payload (or the batch).
    let size = 0, end = start;
    let large: Uint8Array | null = null;
    for (; end < frames.length; end++) {
      const len = frames[end].payload.length;
      if (len >= COALESCE_LIMIT) {
        large = headedInPlace(frames[end]);
        if (large === null) {
          size += headerLength(len);
          large = frames[end].payload;
        }
        end++;
        break;
      }
      size += headerLength(len) + len;
    }
    if (size > 0) {
      const buf = acquire(size);
      let at = 0;
      for (let i = start; i < end; i++) {
        const f = frames[i];
        const last = large !== null && i === end - 1;
        if (last && large !== f.payload) break; // its header went in place
        at = writeHeader(buf, at, f.opcode, f.fin, f.payload.length, f.rsv1);
        if (last) break; // its payload follows as a chunk of its own
        buf.set(f.payload, at);
        at += f.payload.length;
        if (f.hold) f.hold.release(); // copied: the source may be reused
      }
      chunks.push(buf);
    }
    if (large !== null) {
      chunks.push(large);
      const hold = frames[end - 1].hold;
      if (hold) holds.push(hold);
    }
    start = end;
  }
  return { chunks, holds };
}

/**
 * One frame as a client sends it (RFC 6455 §5.3): MASK bit set, `maskKey` (four bytes
 * big-endian, to be drawn fresh and unpredictable for every frame) after the length, and the
 * payload XORed with it. The payload is copied, not changed.
 */
export function encodeMaskedFrame(
  opcode: number,
  fin: boolean,
  payload: Uint8Array,
  maskKey: number,
): Uint8Array {
  const h = headerLength(payload.length);
  const out = new Uint8Array(h + 4 + payload.length);
  writeHeader(out, 0, opcode, fin, payload.length);
  out[1] |= 0x80;
  out[h] = maskKey >>> 24;
  out[h + 1] = (maskKey >>> 16) & 0xff;
  out[h + 2] = (maskKey >>> 8) & 0xff;
  out[h + 3] = maskKey & 0xff;
  out.set(payload, h + 4);
  applyMask(out.subarray(h + 4), maskKey, 0);
  return out;
}

// Header and payload as one view when the frame has room for its header: the header is written
// over the bytes before the payload (which belong to no one, see OutFrame.headroom). Else null.
function headedInPlace(f: OutFrame): Uint8Array | null {
  const p = f.payload, h = headerLength(p.length);
  if ((f.headroom ?? 0) < h || p.byteOffset < h) return null;
  const out = new Uint8Array(p.buffer, p.byteOffset - h, h + p.length);
  writeHeader(out, 0, f.opcode, f.fin, p.length, f.rsv1);
  return out;
}

/**
 * Web Streams shell around encodeFrames: a batch of frames in, its EncodedBatch out (the chunks
 * to write in order, and the holds to release once they are written).
 */
export class FrameEncoder extends TransformStream<OutFrame[], EncodedBatch> {
  constructor(acquire: Acquire = allocate) {
    super(
      {
        transform(frames, controller) {
          controller.enqueue(encodeFrames(frames, acquire));
        },
      },
      CODEC_WRITABLE_STRATEGY,
      CODEC_READABLE_STRATEGY,
    );
  }
}
