// Bytes → frames (RFC 6455 §5.2). A pure, synchronous parser plus its TransformStream shell.

import { applyMask } from "./mask.ts";
import {
  CloseCode,
  CODEC_READABLE_STRATEGY,
  CODEC_WRITABLE_STRATEGY,
  type FramePiece,
  isControl,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  ProtocolError,
} from "./frame.ts";

/** Limits the decoder enforces from frame headers alone, and which side it decodes for. */
export interface DecoderLimits {
  /** Largest payload a single frame may declare (1009 above it). */
  maxFrameSize: number;
  /** permessage-deflate is agreed: RSV1 may mark a message's first frame (RFC 7692 §6). */
  rsv1?: boolean;
  /**
   * "server" (the default) decodes a client's frames, which must be masked; "client" decodes a
   * server's, which must not be (RFC 6455 §5.1: either fault is closed with 1002).
   */
  role?: "server" | "client";
}

const MAX_HEADER = 14;

/**
 * Incremental frame parser. Feed it chunks of bytes in order; it returns every frame (or piece
 * of a data frame) they complete. It takes ownership of the chunks: payloads are unmasked in
 * place and handed on as views, never copied. It holds at most one frame header and one control
 * payload between calls. After a ProtocolError it is finished and ignores further input.
 */
export class FrameParser {
  readonly #maxFrameSize: number;
  readonly #rsv1: boolean;
  readonly #maskBit: number; // the MASK bit every frame must have: 0x80 from clients, 0 from servers
  #header = new Uint8Array(MAX_HEADER);
  #headerHave = 0;
  #control: Uint8Array | null = null; // partial control payload
  #failed = false;

  // The frame whose payload is being read, when #inFrame.
  #inFrame = false;
  #fin = false;
  #rsv = 0;
  #opcode = 0;
  #length = 0;
  #maskKey = 0;
  #headerLength = 0;
  #offset = 0;
  #emitted = false; // the current frame's first piece has been passed on

  constructor(limits: DecoderLimits) {
    this.#maxFrameSize = limits.maxFrameSize;
    this.#rsv1 = limits.rsv1 === true;
    this.#maskBit = limits.role === "client" ? 0 : 0x80;
  }

  /** True once a protocol error has been reported. */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Parses `chunk` and appends what it completes to `out`. Throws a ProtocolError (after
   * appending the frames that preceded the fault) for a frame the protocol forbids.
   */
  push(chunk: Uint8Array, out: FramePiece[]): void {
    if (this.#failed) return;
    let pos = 0;
    const n = chunk.length;
    while (pos < n || (this.#inFrame && this.#length === 0)) {
      if (!this.#inFrame) {
        pos = this.#readHeader(chunk, pos);
        if (!this.#inFrame) return; // header incomplete: wait for more bytes
      }
      const remaining = this.#length - this.#offset;
      const take = Math.min(remaining, n - pos);
      if (isControl(this.#opcode)) {
        if (take < remaining || this.#control !== null) {
          // A control payload split over reads: gather it (it is at most 125 bytes).
          const buf = this.#control ??= new Uint8Array(this.#length);
          buf.set(chunk.subarray(pos, pos + take), this.#offset);
          pos += take;
          this.#offset += take;
          if (this.#offset < this.#length) return;
          this.#control = null;
          this.#emit(out, buf, 0);
          continue;
        }
      }
      const piece = chunk.subarray(pos, pos + take);
      pos += take;
      const offset = this.#offset;
      this.#offset += take;
      // A frame's first piece is passed on even when empty (its header came without payload),
      // so that limits on the whole message apply before the payload is waited for.
      if (take > 0 || !this.#emitted) this.#emit(out, piece, offset);
    }
  }

  #emit(out: FramePiece[], payload: Uint8Array, offset: number): void {
    applyMask(payload, this.#maskKey, offset);
    const end = this.#offset === this.#length;
    out.push({
      fin: this.#fin,
      rsv: this.#rsv,
      opcode: this.#opcode,
      length: this.#length,
      maskKey: this.#maskKey,
      headerLength: this.#headerLength,
      payload,
      offset,
      first: !this.#emitted,
      end,
    });
    this.#emitted = true;
    if (end) this.#inFrame = false;
  }

  // Reads a header starting at `pos`, from the chunk directly when it holds all of it, else via
  // the carry buffer. Returns the new position; sets #inFrame when a header is complete.
  #readHeader(chunk: Uint8Array, pos: number): number {
    if (
      this.#headerHave === 0 && chunk.length - pos >= headerSize(chunk, pos, chunk.length - pos)
    ) {
      return pos + this.#parseHeader(chunk, pos);
    }
    // Carry: top up the saved bytes, as far as the header size is known so far.
    const h = this.#header;
    let want = headerSize(h, 0, this.#headerHave);
    while (pos < chunk.length && this.#headerHave < want) {
      const copy = Math.min(want - this.#headerHave, chunk.length - pos);
      h.set(chunk.subarray(pos, pos + copy), this.#headerHave);
      this.#headerHave += copy;
      pos += copy;
      want = headerSize(h, 0, this.#headerHave);
    }
    if (this.#headerHave < want) return pos;
    this.#headerHave = 0;
    this.#parseHeader(h, 0);
    return pos;
  }

  // Validates the complete header at src[at]; returns its size.
  #parseHeader(src: Uint8Array, at: number): number {
    const b0 = src[at], b1 = src[at + 1];
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >>> 4) & 0x7;
    const opcode = b0 & 0x0f;
    let len = b1 & 0x7f;
    let size = 2;
    if (len === 126) {
      len = (src[at + 2] << 8) | src[at + 3];
      size = 4;
    } else if (len === 127) {
      const hi = ((src[at + 2] << 24) | (src[at + 3] << 16) | (src[at + 4] << 8) | src[at + 5]) >>>
        0;
      const lo = ((src[at + 6] << 24) | (src[at + 7] << 16) | (src[at + 8] << 8) | src[at + 9]) >>>
        0;
      if (hi & 0x80000000) this.#fail(CloseCode.ProtocolError, "64-bit length has its MSB set");
      len = hi * 0x1_0000_0000 + lo;
      size = 10;
    }
    if ((b1 & 0x80) !== this.#maskBit) {
      this.#fail(
        CloseCode.ProtocolError,
        this.#maskBit ? "client frame is not masked" : "server frame is masked",
      );
    }
    if (rsv !== 0) {
      // RSV1 marks a compressed message, on its first frame only: never on a continuation or a
      // control frame (RFC 7692 §6.1); RSV2 and RSV3 mean nothing here.
      const first = opcode === Opcode.Text || opcode === Opcode.Binary;
      if (rsv !== 4 || !this.#rsv1) {
        this.#fail(CloseCode.ProtocolError, "reserved bits set without an extension");
      }
      if (!first) {
        this.#fail(CloseCode.ProtocolError, "RSV1 set on a frame other than a message's first");
      }
    }
    if (opcode > Opcode.Binary && opcode < Opcode.Close || opcode > Opcode.Pong) {
      this.#fail(CloseCode.ProtocolError, `unknown opcode 0x${opcode.toString(16)}`);
    }
    if (isControl(opcode)) {
      if (!fin) this.#fail(CloseCode.ProtocolError, "fragmented control frame");
      if (len > MAX_CONTROL_PAYLOAD) {
        this.#fail(CloseCode.ProtocolError, "control frame payload over 125 bytes");
      }
    }
    if (len > this.#maxFrameSize) {
      this.#fail(CloseCode.MessageTooBig, `frame of ${len} bytes exceeds ${this.#maxFrameSize}`);
    }
    if (this.#maskBit) {
      this.#maskKey =
        ((src[at + size] << 24) | (src[at + size + 1] << 16) | (src[at + size + 2] << 8) |
          src[at + size + 3]) >>> 0;
      size += 4;
    } else {
      this.#maskKey = 0; // applyMask leaves the payload as it is
    }
    this.#fin = fin;
    this.#rsv = rsv;
    this.#opcode = opcode;
    this.#length = len;
    this.#headerLength = size;
    this.#offset = 0;
    this.#emitted = false;
    this.#inFrame = true;
    return size;
  }

  #fail(code: number, reason: string): never {
    this.#failed = true;
    throw new ProtocolError(code, reason);
  }
}

// Header size implied by the first `have` bytes at buf[at] (2 until the length byte is seen).
function headerSize(buf: Uint8Array, at: number, have: number): number {
  if (have < 2) return 2;
  const len = buf[at + 1] & 0x7f;
  const mask = buf[at + 1] & 0x80 ? 4 : 0;
  return (len === 126 ? 4 : len === 127 ? 10 : 2) + mask;
}

/** What one chunk of bytes decoded to: the frames it completed, and the error that ended it. */
export interface DecodedChunk {
  frames: FramePiece[];
  error: ProtocolError | null;
}

/** Feeds one chunk to `parser`: the frames it completes, and the protocol error it ended with. */
export function decodeChunk(parser: FrameParser, chunk: Uint8Array): DecodedChunk {
  const frames: FramePiece[] = [];
  let error: ProtocolError | null = null;
  try {
    parser.push(chunk, frames);
  } catch (err) {
    error = err as ProtocolError;
  }
  return { frames, error };
}

/**
 * Web Streams shell around FrameParser: each chunk of bytes in gives exactly one DecodedChunk
 * out (batched, so that a read carrying many frames costs one stream hop, and never none, so
 * that a reader waiting on its output always gets an answer). After an error, chunks decode to
 * nothing.
 */
export class FrameDecoder extends TransformStream<Uint8Array, DecodedChunk> {
  constructor(limits: DecoderLimits) {
    const parser = new FrameParser(limits);
    super(
      {
        transform(chunk, controller) {
          controller.enqueue(decodeChunk(parser, chunk));
        },
      },
      CODEC_WRITABLE_STRATEGY,
      CODEC_READABLE_STRATEGY,
    );
  }
}
