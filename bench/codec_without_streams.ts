// EXPERIMENT, never used by wsecho: the connection's Codec with the same interface but without
// its TransformStreams, the parser and encoder called directly (each result still a resolved
// promise, as the connection awaits it). `BASE_REV=no-streams deno task bench:load` runs wsecho
// built with this file in place of src/connection/codec.ts as wsecho-base, to measure what the
// two stream hops per message cost end to end. (Imports are written from bench/; lib.sh rewrites
// them for the copy in src/connection/.)

import type { OutFrame } from "../src/protocol/frame.ts";
import { decodeChunk, type DecodedChunk, FrameParser } from "../src/protocol/frame_decoder.ts";
import { type EncodedBatch, encodeFrames } from "../src/protocol/frame_encoder.ts";
import { outputPool } from "../src/connection/output_pool.ts";

const acquire = (n: number) => outputPool.acquire(n);
const DONE = Promise.resolve({ done: true, value: undefined } as const);

/** Codec's interface over FrameParser and encodeFrames, without streams. */
export class Codec {
  readonly #parser: FrameParser;
  #closed = false;

  /** As Codec: `rsv1` when permessage-deflate is agreed. */
  constructor(maxFrame: number, rsv1 = false) {
    this.#parser = new FrameParser({ maxFrameSize: maxFrame, rsv1 });
  }

  /** The frames a chunk completes, and the protocol error that ended it, if one did. */
  decode(chunk: Uint8Array): Promise<ReadableStreamReadResult<DecodedChunk>> {
    if (this.#closed) return DONE;
    return Promise.resolve({ done: false, value: decodeChunk(this.#parser, chunk) });
  }

  /** A batch of frames encoded. */
  encode(frames: OutFrame[]): Promise<ReadableStreamReadResult<EncodedBatch>> {
    if (this.#closed) return DONE;
    return Promise.resolve({ done: false, value: encodeFrames(frames, acquire) });
  }

  /** Ends it. */
  close(): void {
    this.#closed = true;
  }
}
