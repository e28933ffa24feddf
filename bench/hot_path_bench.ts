// Micro-benchmarks of the per-message hot path: frame decoding (with unmasking), unmasking,
// UTF-8 validation and frame encoding. Run: `deno bench bench/hot_path_bench.ts`, or
// `deno run --allow-run bench/report_hot_path.ts` for MB/s and frames/s.
//
// FrameParser.push unmasks payloads in place, so every decode iteration works on a fresh copy
// of a pristine input. Two ways to keep the copy out of the figure are measured side by side:
// the copy timed on its own (to subtract: report_hot_path.ts does), and the copy made before
// b.start() (untimed; per-iteration timer overhead is then included instead).

import { FrameParser } from "../src/protocol/frame_decoder.ts";
import { encodeFrames } from "../src/protocol/frame_encoder.ts";
import type { FramePiece } from "../src/protocol/frame.ts";
import { applyMask, maskWith64BitWords } from "../src/protocol/mask.ts";
import { isValidUtf8, Utf8Validator } from "../src/protocol/utf8.ts";
import {
  asciiBytes,
  MASK_KEY,
  maskedFrames,
  MIB,
  mixedUtf8Bytes,
  NAMES,
  outFrames,
  plainPayload,
  SMALL_FRAMES,
  SMALL_PAYLOAD,
} from "./hot_path_fixtures.ts";

// As wsecho on Deno runs it (src/runtime/deno/start.ts): V8 unmasks in 64-bit words.
maskWith64BitWords();

const LIMITS = { maxFrameSize: 16 * MIB };

// ---- fixtures, checked once so that a broken build is not benchmarked -----------------------

const smallPristine = maskedFrames(SMALL_FRAMES, SMALL_PAYLOAD);
const smallWork = new Uint8Array(smallPristine.length);
const largePristine = maskedFrames(1, MIB);
const largeWork = new Uint8Array(largePristine.length);
const out: FramePiece[] = [];

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`hot_path_bench: fixture check failed: ${what}`);
}

{
  smallWork.set(smallPristine);
  const frames: FramePiece[] = [];
  new FrameParser(LIMITS).push(smallWork, frames);
  check(frames.length === SMALL_FRAMES, `decoded ${frames.length} small frames`);
  const want = plainPayload(SMALL_FRAMES - 1, SMALL_PAYLOAD);
  const got = frames[SMALL_FRAMES - 1].payload;
  check(got.every((b, i) => b === want[i]), "last small payload unmasked correctly");
  largeWork.set(largePristine);
  frames.length = 0;
  new FrameParser(LIMITS).push(largeWork, frames);
  check(frames.length === 1 && frames[0].payload.length === MIB, "one whole 1 MiB frame");
  check(frames[0].payload[MIB - 1] === plainPayload(0, MIB)[MIB - 1], "1 MiB payload unmasked");
}

const ascii = asciiBytes(MIB);
const mixed = mixedUtf8Bytes(MIB);
check(isValidUtf8(ascii) && isValidUtf8(mixed), "UTF-8 fixtures are valid");
const fatal = new TextDecoder("utf-8", { fatal: true });

const maskBuf = new Uint8Array(MIB + 8);
const maskAligned = maskBuf.subarray(0, MIB);
const maskUnaligned = maskBuf.subarray(1, MIB + 1);
const copySrc = new Uint8Array(MIB).fill(7);
const copyDst = new Uint8Array(MIB);

const small = outFrames(SMALL_FRAMES, SMALL_PAYLOAD);
const medium = Array.from({ length: 16 }, () => ({
  opcode: 0x2,
  fin: true,
  payload: new Uint8Array(16 * 1024),
}));
{
  const chunks = encodeFrames(small).chunks;
  check(
    chunks.length === 1 && chunks[0].length === SMALL_FRAMES * (2 + SMALL_PAYLOAD),
    "1000 small frames coalesce into one chunk",
  );
}

// A sink so that results are used and the work cannot be optimised away.
let sink = 0;

// ---- decode -----------------------------------------------------------------------------------

const smallParser = new FrameParser(LIMITS);
const largeParser = new FrameParser(LIMITS);

Deno.bench({
  name: NAMES.decodeCopy,
  group: "decode",
  baseline: true,
  fn() {
    smallWork.set(smallPristine);
    sink ^= smallWork[7];
  },
});

Deno.bench({
  name: NAMES.decodeCopyPush,
  group: "decode",
  fn() {
    smallWork.set(smallPristine);
    out.length = 0;
    smallParser.push(smallWork, out);
    sink ^= out.length;
  },
});

Deno.bench({
  name: NAMES.decodePush,
  group: "decode",
  fn(b) {
    smallWork.set(smallPristine);
    out.length = 0;
    b.start();
    smallParser.push(smallWork, out);
    b.end();
    sink ^= out.length;
  },
});

Deno.bench({
  name: NAMES.decodeLargeCopy,
  group: "decode-1MiB",
  baseline: true,
  fn() {
    largeWork.set(largePristine);
    sink ^= largeWork[20];
  },
});

Deno.bench({
  name: NAMES.decodeLargeCopyPush,
  group: "decode-1MiB",
  fn() {
    largeWork.set(largePristine);
    out.length = 0;
    largeParser.push(largeWork, out);
    sink ^= out.length;
  },
});

Deno.bench({
  name: NAMES.decodeLargePush,
  group: "decode-1MiB",
  fn(b) {
    largeWork.set(largePristine);
    out.length = 0;
    b.start();
    largeParser.push(largeWork, out);
    b.end();
    sink ^= out.length;
  },
});

// ---- unmask (XOR is data-independent, so masking the same buffer over and over is fair) ------

Deno.bench({
  name: NAMES.memcpy,
  group: "unmask",
  baseline: true,
  fn() {
    copyDst.set(copySrc);
    sink ^= copyDst[5];
  },
});

Deno.bench({
  name: NAMES.unmaskAligned,
  group: "unmask",
  fn() {
    applyMask(maskAligned, MASK_KEY);
    sink ^= maskAligned[3];
  },
});

Deno.bench({
  name: NAMES.unmaskUnaligned,
  group: "unmask",
  fn() {
    applyMask(maskUnaligned, MASK_KEY);
    sink ^= maskUnaligned[3];
  },
});

// ---- UTF-8 validation -------------------------------------------------------------------------

const validator = new Utf8Validator();
const PIECE = 16 * 1024;

Deno.bench({
  name: NAMES.asciiTextDecoder,
  group: "utf8-ascii",
  baseline: true,
  fn() {
    sink ^= fatal.decode(ascii).length;
  },
});

Deno.bench({
  name: NAMES.asciiValidator,
  group: "utf8-ascii",
  fn() {
    validator.reset();
    if (!validator.push(ascii) || !validator.complete) throw new Error("invalid");
  },
});

Deno.bench({
  name: NAMES.asciiIsValid,
  group: "utf8-ascii",
  fn() {
    if (!isValidUtf8(ascii)) throw new Error("invalid");
  },
});

Deno.bench({
  name: NAMES.asciiPieces,
  group: "utf8-ascii",
  fn() {
    validator.reset();
    for (let at = 0; at < ascii.length; at += PIECE) {
      if (!validator.push(ascii.subarray(at, at + PIECE))) throw new Error("invalid");
    }
    if (!validator.complete) throw new Error("incomplete");
  },
});

Deno.bench({
  name: NAMES.mixedTextDecoder,
  group: "utf8-mixed",
  baseline: true,
  fn() {
    sink ^= fatal.decode(mixed).length;
  },
});

Deno.bench({
  name: NAMES.mixedValidator,
  group: "utf8-mixed",
  fn() {
    validator.reset();
    if (!validator.push(mixed) || !validator.complete) throw new Error("invalid");
  },
});

Deno.bench({
  name: NAMES.mixedIsValid,
  group: "utf8-mixed",
  fn() {
    if (!isValidUtf8(mixed)) throw new Error("invalid");
  },
});

const smallPayloads = Array.from(
  { length: SMALL_FRAMES },
  (_, f) => plainPayload(f, SMALL_PAYLOAD),
);

Deno.bench({
  name: NAMES.smallIsValid,
  group: "utf8-small",
  fn() {
    for (let i = 0; i < smallPayloads.length; i++) {
      if (!isValidUtf8(smallPayloads[i])) throw new Error("invalid");
    }
  },
});

// ---- encode -----------------------------------------------------------------------------------

Deno.bench({
  name: NAMES.encode,
  group: "encode",
  baseline: true,
  fn() {
    sink ^= encodeFrames(small).chunks.length;
  },
});

Deno.bench({
  name: NAMES.encodeLarge,
  group: "encode",
  fn() {
    sink ^= encodeFrames(medium).chunks.length;
  },
});

// Keeps `sink` observable (never true in practice).
globalThis.addEventListener("unload", () => {
  if (sink === 0x7fffffff) console.log(sink);
});
