// The decoder and encoder TransformStreams of one connection, driven chunk by chunk.
//
// Why directly, and not with pipeTo: each chunk's output is read before the chunk is written,
// so the transform runs at once (no queued chunk, no backpressure wait) and a chunk costs one
// stream hop each way instead of the several promises of a pipe.

import type { OutFrame } from "../protocol/frame.ts";
import { type DecodedChunk, FrameDecoder } from "../protocol/frame_decoder.ts";
import { type EncodedBatch, FrameEncoder } from "../protocol/frame_encoder.ts";
import { outputPool } from "./output_pool.ts";

// A write's own promise rejects only once the stream is closed; results come through the reader.
const ignore = () => {};
const acquire = (n: number) => outputPool.acquire(n);

/** A connection's FrameDecoder and FrameEncoder. */
export class Codec {
  readonly #decodeIn: WritableStreamDefaultWriter<Uint8Array>;
  readonly #decodeOut: ReadableStreamDefaultReader<DecodedChunk>;
  readonly #encodeIn: WritableStreamDefaultWriter<OutFrame[]>;
  readonly #encodeOut: ReadableStreamDefaultReader<EncodedBatch>;

  /** `rsv1`: permessage-deflate is agreed (RSV1 may mark a compressed message). */
  constructor(maxFrame: number, rsv1 = false) {
    const decoder = new FrameDecoder({ maxFrameSize: maxFrame, rsv1 });
    const encoder = new FrameEncoder(acquire);
    this.#decodeIn = decoder.writable.getWriter();
    this.#decodeOut = decoder.readable.getReader();
    this.#encodeIn = encoder.writable.getWriter();
    this.#encodeOut = encoder.readable.getReader();
  }

  /**
   * The frames a chunk of input completes (done once the codec is closed). The decoder takes
   * the chunk: it unmasks in place. (The stream's own read result: no extra promise hop.)
   */
  decode(chunk: Uint8Array): Promise<ReadableStreamReadResult<DecodedChunk>> {
    const out = this.#decodeOut.read();
    this.#decodeIn.write(chunk).catch(ignore);
    return out;
  }

  /** A batch of frames encoded (done once the codec is closed). */
  encode(frames: OutFrame[]): Promise<ReadableStreamReadResult<EncodedBatch>> {
    const out = this.#encodeOut.read();
    this.#encodeIn.write(frames).catch(ignore);
    return out;
  }

  /** Ends both streams. */
  close(): void {
    this.#decodeIn.close().catch(ignore);
    this.#encodeIn.close().catch(ignore);
  }
}
