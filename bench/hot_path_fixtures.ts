// Inputs for bench/hot_path_bench.ts and the units bench/report_hot_path.ts turns timings into.
// Data builders, and the in-process echo path: importing this module registers no benchmark.

import { WebSocketConnection } from "../src/connection/connection.ts";
import type { Socket } from "../src/connection/socket.ts";
import { echo } from "../src/echo.ts";
import type { OutFrame } from "../src/protocol/frame.ts";

/** The masking key wsload uses (37 fa 21 3d), read big-endian as the decoder does. */
export const MASK_KEY = 0x37fa213d;
export const SMALL_FRAMES = 1000;
export const SMALL_PAYLOAD = 20;
export const MIB = 1024 * 1024;

/** `count` client frames (FIN, text, masked) of `size` ASCII bytes each, back to back. */
export function maskedFrames(count: number, size: number, key = MASK_KEY): Uint8Array {
  const head = size < 126 ? 2 : size < 0x10000 ? 4 : 10;
  const frameLen = head + 4 + size;
  const out = new Uint8Array(count * frameLen);
  for (let f = 0; f < count; f++) {
    let at = f * frameLen;
    out[at] = size < 126 ? 0x81 : 0x82; // small ones text (as S1), large ones binary
    if (size < 126) {
      out[at + 1] = 0x80 | size;
    } else if (size < 0x10000) {
      out[at + 1] = 0x80 | 126;
      out[at + 2] = size >>> 8;
      out[at + 3] = size & 0xff;
    } else {
      out[at + 1] = 0x80 | 127;
      // lengths below 2^32 only: bytes 2..5 stay zero
      out[at + 6] = size >>> 24;
      out[at + 7] = (size >>> 16) & 0xff;
      out[at + 8] = (size >>> 8) & 0xff;
      out[at + 9] = size & 0xff;
    }
    at += head;
    for (let i = 0; i < 4; i++) out[at + i] = (key >>> (24 - 8 * i)) & 0xff;
    at += 4;
    for (let i = 0; i < size; i++) {
      const plain = 0x41 + ((f + i) % 26); // 'A'..'Z'
      out[at + i] = plain ^ ((key >>> (24 - 8 * (i & 3))) & 0xff);
    }
  }
  return out;
}

/** The plain payload of frame `f` as maskedFrames() built it. */
export function plainPayload(f: number, size: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = 0x41 + ((f + i) % 26);
  return p;
}

/** `count` server frames (FIN, text) of `size` ASCII bytes each. */
export function outFrames(count: number, size: number): OutFrame[] {
  const frames: OutFrame[] = [];
  for (let f = 0; f < count; f++) {
    frames.push({ opcode: 0x1, fin: true, payload: plainPayload(f, size) });
  }
  return frames;
}

/** `n` bytes of printable ASCII. */
export function asciiBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = 0x20 + (i % 95);
  return b;
}

/**
 * At most `n` bytes of valid UTF-8 mixing 1-, 2-, 3- and 4-byte characters (roughly a quarter of
 * the bytes in each length class), cut at a character boundary.
 */
export function mixedUtf8Bytes(n: number): Uint8Array {
  const unit = new TextEncoder().encode(
    "plain ascii text, Grüße, déjà vu — 日本語のテキスト 😀🎉𝄞 ",
  );
  const b = new Uint8Array(n);
  for (let at = 0; at < n; at += unit.length) {
    b.set(unit.subarray(0, Math.min(unit.length, n - at)), at);
  }
  let end = n;
  // Step back to the start of the character the cut may have split, unless it ends exactly.
  let start = end - 1;
  while (start > 0 && (b[start] & 0xc0) === 0x80) start--;
  const lead = b[start];
  const len = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
  if (start + len > end) end = start;
  return b.subarray(0, end);
}

/** What one iteration of a benchmark processes, for MB/s and frames/s. */
export interface Units {
  /** Payload (or input) bytes handled per iteration. */
  bytes?: number;
  /** Frames decoded or encoded per iteration. */
  frames?: number;
  /** Name of a benchmark whose time is part of this one's and is subtracted in the report. */
  minus?: string;
}

/** Benchmark names, shared with the report. */
export const NAMES = {
  decodeCopy: "decode: copy the 1000-frame input only (subtract)",
  decodeCopyPush: "decode: copy + FrameParser.push, 1000 x 20 B masked frames",
  decodePush: "decode: FrameParser.push, 1000 x 20 B masked frames (copy untimed)",
  decodeLargeCopy: "decode-1MiB: copy the 1 MiB frame only (subtract)",
  decodeLargeCopyPush: "decode-1MiB: copy + FrameParser.push, one 1 MiB masked frame",
  decodeLargePush: "decode-1MiB: FrameParser.push, one 1 MiB masked frame (copy untimed)",
  memcpy: "unmask: Uint8Array.set 1 MiB (memcpy reference)",
  unmaskAligned: "unmask: applyMask 1 MiB, 4-byte-aligned view",
  unmaskUnaligned: "unmask: applyMask 1 MiB, view at byteOffset 1",
  asciiTextDecoder: "utf8-ascii: TextDecoder fatal 1 MiB (native reference)",
  asciiValidator: "utf8-ascii: Utf8Validator.push 1 MiB",
  asciiIsValid: "utf8-ascii: isValidUtf8 1 MiB",
  asciiPieces: "utf8-ascii: Utf8Validator.push 1 MiB in 16 KiB pieces",
  mixedTextDecoder: "utf8-mixed: TextDecoder fatal 1 MiB (native reference)",
  mixedValidator: "utf8-mixed: Utf8Validator.push 1 MiB",
  mixedIsValid: "utf8-mixed: isValidUtf8 1 MiB",
  smallIsValid: "utf8-small: isValidUtf8 on 1000 x 20 B ASCII payloads (S1's messages)",
  encode: "encode: encodeFrames, 1000 x 20 B frames into one chunk",
  encodeLarge: "encode: encodeFrames, 16 x 16 KiB frames",
} as const;

const SMALL_WIRE = SMALL_FRAMES * (2 + 4 + SMALL_PAYLOAD);
const LARGE_WIRE = 10 + 4 + MIB;

/** Units per benchmark name. Bytes are payload bytes except for the copies (bytes copied). */
export const UNITS: Record<string, Units> = {
  [NAMES.decodeCopy]: { bytes: SMALL_WIRE },
  [NAMES.decodeCopyPush]: {
    bytes: SMALL_FRAMES * SMALL_PAYLOAD,
    frames: SMALL_FRAMES,
    minus: NAMES.decodeCopy,
  },
  [NAMES.decodePush]: { bytes: SMALL_FRAMES * SMALL_PAYLOAD, frames: SMALL_FRAMES },
  [NAMES.decodeLargeCopy]: { bytes: LARGE_WIRE },
  [NAMES.decodeLargeCopyPush]: { bytes: MIB, frames: 1, minus: NAMES.decodeLargeCopy },
  [NAMES.decodeLargePush]: { bytes: MIB, frames: 1 },
  [NAMES.memcpy]: { bytes: MIB },
  [NAMES.unmaskAligned]: { bytes: MIB },
  [NAMES.unmaskUnaligned]: { bytes: MIB },
  [NAMES.asciiTextDecoder]: { bytes: MIB },
  [NAMES.asciiValidator]: { bytes: MIB },
  [NAMES.asciiIsValid]: { bytes: MIB },
  [NAMES.asciiPieces]: { bytes: MIB },
  // mixed inputs are cut at a character boundary: a few bytes short of 1 MiB
  [NAMES.mixedTextDecoder]: { bytes: mixedUtf8Bytes(MIB).length },
  [NAMES.mixedValidator]: { bytes: mixedUtf8Bytes(MIB).length },
  [NAMES.mixedIsValid]: { bytes: mixedUtf8Bytes(MIB).length },
  [NAMES.smallIsValid]: { bytes: SMALL_FRAMES * SMALL_PAYLOAD, frames: SMALL_FRAMES },
  [NAMES.encode]: { bytes: SMALL_FRAMES * SMALL_PAYLOAD, frames: SMALL_FRAMES },
  [NAMES.encodeLarge]: { bytes: 16 * 16 * 1024, frames: 16 },
};

/**
 * Runs the real echo loop over a fake socket that hands it `reads` chunks of `framesPerRead`
 * small masked frames and swallows the writes: the core's JavaScript cost, without a kernel.
 */
export async function echoReads(framesPerRead: number, reads: number): Promise<void> {
  const chunk = maskedFrames(framesPerRead, SMALL_PAYLOAD);
  let done = 0;
  const conn: Socket = {
    read(p) {
      if (done++ >= reads) return Promise.resolve(null);
      p.set(chunk);
      return Promise.resolve(chunk.length);
    },
    write: (p) => Promise.resolve(p.length),
    closeWrite: () => Promise.resolve(),
    close() {},
    remote: { hostname: "127.0.0.1", port: 1 },
  };
  const ws = new WebSocketConnection(conn, {
    options: { maxMessage: 1 << 24, closeTimeout: 1000, maxBackpressure: 1 << 20 },
  });
  await ws.open(new Uint8Array(1));
  await echo(ws);
}
