// FrameParser / FrameDecoder (src/protocol/frame_decoder.ts): incremental parsing at every split
// point, encoder round trips, and every protocol error with its close code.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { FrameDecoder, FrameParser } from "../../src/protocol/frame_decoder.ts";
import { encodeFrames } from "../../src/protocol/frame_encoder.ts";
import { type FramePiece, ProtocolError } from "../../src/protocol/frame.ts";
import { clientFrame, type FrameSpec } from "../support/raw_client.ts";
import { concat } from "../support/bytes.ts";

const LIMIT = 4 * 1024 * 1024;

/** A whole frame, reassembled from the decoder's pieces. */
interface Whole {
  fin: boolean;
  rsv: number;
  opcode: number;
  length: number;
  headerLength: number;
  payload: Uint8Array;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Joins pieces into whole frames, checking that pieces are contiguous and well-formed. */
function joinPieces(frames: FramePiece[]): Whole[] {
  const out: Whole[] = [];
  let parts: Uint8Array[] = [];
  let expectOffset = 0;
  for (const f of frames) {
    assert.equal(f.offset, expectOffset, "piece offsets are contiguous");
    parts.push(f.payload.slice());
    expectOffset += f.payload.length;
    if (f.end) {
      assert.equal(expectOffset, f.length, "last piece ends at the declared length");
      out.push({
        fin: f.fin,
        rsv: f.rsv,
        opcode: f.opcode,
        length: f.length,
        headerLength: f.headerLength,
        payload: concat(parts),
      });
      parts = [];
      expectOffset = 0;
    }
  }
  assert.equal(parts.length, 0, "no unfinished frame left");
  return out;
}

function parseAll(chunks: Uint8Array[], maxFrameSize = LIMIT): FramePiece[] {
  const p = new FrameParser({ maxFrameSize });
  const out: FramePiece[] = [];
  for (const c of chunks) p.push(c, out);
  return out;
}

function patterned(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >>> 8)) & 0xff;
  return b;
}

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

// Several frames of every header form: small, 16-bit length, 64-bit length, control, empty.
const SPECS: FrameSpec[] = [
  { opcode: 1, payload: "Hello", maskKey: KEY },
  { opcode: 2, payload: patterned(126, 1), fin: false, maskKey: new Uint8Array([1, 2, 3, 4]) },
  { opcode: 9, payload: "ping!", maskKey: new Uint8Array([0xff, 0, 0x80, 0x7f]) },
  { opcode: 0, payload: patterned(65536, 2), maskKey: new Uint8Array([0xa5, 0x5a, 0xc3, 0x3c]) },
  { opcode: 1, payload: "", maskKey: KEY },
  { opcode: 10, payload: patterned(125, 3), maskKey: KEY },
  { opcode: 2, payload: patterned(300, 4), maskKey: new Uint8Array([9, 8, 7, 6]) },
  { opcode: 8, payload: new Uint8Array([0x03, 0xe8, 0x6f, 0x6b]), maskKey: KEY },
];

function expected(specs: FrameSpec[]): Whole[] {
  return specs.map((s) => {
    const payload = typeof s.payload === "string"
      ? new TextEncoder().encode(s.payload)
      : s.payload ?? new Uint8Array(0);
    const len = payload.length;
    return {
      fin: s.fin ?? true,
      rsv: 0,
      opcode: s.opcode,
      length: len,
      headerLength: (len < 126 ? 2 : len < 0x10000 ? 4 : 10) + 4,
      payload,
    };
  });
}

function assertFramesEqual(got: Whole[], want: Whole[], where: string): void {
  assert.equal(got.length, want.length, `${where}: frame count`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (
      g.fin !== w.fin || g.rsv !== w.rsv || g.opcode !== w.opcode || g.length !== w.length ||
      g.headerLength !== w.headerLength || !bytesEqual(g.payload, w.payload)
    ) {
      assert.fail(`${where}: frame ${i} differs (opcode ${g.opcode}, length ${g.length})`);
    }
  }
}

const STREAM = concat(SPECS.map(clientFrame));
const WANT = expected(SPECS);

Deno.test("decoder: the whole stream in one chunk gives every frame", () => {
  const frames = parseAll([STREAM.slice()]);
  // One chunk holds every frame whole: no frame is split into pieces.
  assert.equal(frames.length, SPECS.length);
  assertFramesEqual(joinPieces(frames), WANT, "one chunk");
});

Deno.test("decoder: the same frames at every split point of a multi-frame stream", () => {
  // Compares each piece against the expected payload in place (no reassembly copy), so that
  // the ~66 000 split points stay cheap.
  const starts: number[] = [];
  let at = 0;
  for (const s of SPECS) {
    starts.push(at);
    at += clientFrame(s).length;
  }
  for (let split = 0; split <= STREAM.length; split++) {
    const copy = STREAM.slice();
    const out: FramePiece[] = [];
    const p = new FrameParser({ maxFrameSize: LIMIT });
    p.push(copy.subarray(0, split), out);
    p.push(copy.subarray(split), out);
    let frame = 0;
    for (const f of out) {
      const w = WANT[frame];
      if (
        f.opcode !== w.opcode || f.fin !== w.fin || f.length !== w.length ||
        f.headerLength !== w.headerLength ||
        !bytesEqual(f.payload, w.payload.subarray(f.offset, f.offset + f.payload.length))
      ) {
        assert.fail(`split ${split}: frame ${frame} piece at offset ${f.offset} differs`);
      }
      if (f.end) {
        if (f.offset + f.payload.length !== w.length) assert.fail(`split ${split}: short frame`);
        frame++;
      }
    }
    if (frame !== WANT.length) assert.fail(`split ${split}: ${frame} frames, not ${WANT.length}`);
  }
});

Deno.test("decoder: the same frames at every pair of split points of the small frames", () => {
  // Three pieces: covers headers split twice (e.g. 16-bit length and mask key apart).
  const specs = SPECS.filter((s) => (s.payload?.length ?? 0) < 1000);
  const stream = concat(specs.map(clientFrame));
  const want = expected(specs);
  for (let a = 0; a <= stream.length; a += 1) {
    for (let b = a; b <= stream.length; b += a < 40 ? 1 : 37) {
      const copy = stream.slice();
      const frames = parseAll([copy.subarray(0, a), copy.subarray(a, b), copy.subarray(b)]);
      assertFramesEqual(joinPieces(frames), want, `splits ${a},${b}`);
    }
  }
});

Deno.test("decoder: the same frames when fed one byte at a time", () => {
  const copy = STREAM.slice();
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < copy.length; i++) chunks.push(copy.subarray(i, i + 1));
  assertFramesEqual(joinPieces(parseAll(chunks)), WANT, "byte by byte");
});

Deno.test("decoder: control frames are always handed on whole", () => {
  const ping = clientFrame({ opcode: 9, payload: patterned(125), maskKey: KEY });
  for (let split = 1; split < ping.length; split++) {
    const copy = ping.slice();
    const frames = parseAll([copy.subarray(0, split), copy.subarray(split)]);
    assert.equal(frames.length, 1, `split ${split}`);
    assert.equal(frames[0].offset, 0);
    assert.equal(frames[0].end, true);
    assert.deepEqual(frames[0].payload, patterned(125));
  }
});

Deno.test("decoder: a data frame split over reads comes in pieces with offsets", () => {
  const payload = patterned(1000);
  const f = clientFrame({ opcode: 2, payload, maskKey: KEY });
  const hl = 4 + 4; // 16-bit length form and mask key
  const frames = parseAll([f.subarray(0, hl + 100), f.subarray(hl + 100, 500), f.subarray(500)]);
  assert.deepEqual(frames.map((x) => [x.offset, x.payload.length, x.end]), [
    [0, 100, false],
    [100, 500 - hl - 100, false],
    [500 - hl, 1000 - (500 - hl), true],
  ]);
  assert.deepEqual(joinPieces(frames)[0].payload, payload);
});

Deno.test("decoder: header fields (fin, opcode, length, mask key, headerLength)", () => {
  const frames = parseAll([
    clientFrame({ opcode: 1, payload: "abc", fin: false, maskKey: new Uint8Array([1, 2, 3, 4]) }),
  ]);
  assert.equal(frames.length, 1);
  const f = frames[0];
  assert.equal(f.fin, false);
  assert.equal(f.rsv, 0);
  assert.equal(f.opcode, 1);
  assert.equal(f.length, 3);
  assert.equal(f.maskKey, 0x01020304);
  assert.equal(f.headerLength, 6);
  assert.equal(new TextDecoder().decode(f.payload), "abc");
});

Deno.test("decoder: non-minimal length encodings are accepted", () => {
  const frames = parseAll([
    clientFrame({ opcode: 1, payload: "x", lengthBits: 16, maskKey: KEY }),
    clientFrame({ opcode: 2, payload: "yz", lengthBits: 64, maskKey: KEY }),
  ]);
  const whole = joinPieces(frames);
  assert.deepEqual(whole.map((w) => [w.length, w.headerLength]), [[1, 8], [2, 14]]);
  assert.deepEqual(whole[1].payload, new Uint8Array([0x79, 0x7a]));
});

// A server frame (unmasked) turned into the client frame carrying the same header and payload.
function maskServerFrame(server: Uint8Array, key: Uint8Array): Uint8Array {
  const len7 = server[1] & 0x7f;
  const hl = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
  assert.equal(server[1] & 0x80, 0, "server frames are not masked");
  const out = new Uint8Array(server.length + 4);
  out.set(server.subarray(0, hl));
  out[1] |= 0x80;
  out.set(key, hl);
  out.set(server.subarray(hl), hl + 4);
  const k = ((key[0] << 24) | (key[1] << 16) | (key[2] << 8) | key[3]) >>> 0;
  for (let i = hl + 4, j = 0; i < out.length; i++, j++) out[i] ^= (k >>> (24 - (j & 3) * 8)) & 0xff;
  return out;
}

for (const n of [0, 125, 126, 65535, 65536, 2 ** 20]) {
  Deno.test(`decoder: encoder round trip for a ${n}-byte payload`, () => {
    const payload = patterned(n, n & 0xff);
    for (const opcode of n <= 125 ? [1, 2, 9] : [1, 2]) {
      const encoded = concat(encodeFrames([{ opcode, fin: true, payload }]).chunks);
      const wire = maskServerFrame(encoded, KEY);
      // The same bytes as the test client would build for this frame.
      assert.ok(bytesEqual(wire, clientFrame({ opcode, payload, maskKey: KEY })));
      const frames = parseAll([wire], 2 ** 20);
      const [w] = joinPieces(frames);
      assert.equal(w.opcode, opcode);
      assert.equal(w.fin, true);
      assert.equal(w.length, n);
      assert.ok(bytesEqual(w.payload, payload), "payload survives the round trip");
    }
    // And a non-final fragment keeps its FIN bit clear through the round trip.
    const frag = maskServerFrame(
      concat(encodeFrames([{ opcode: 0, fin: false, payload }]).chunks),
      KEY,
    );
    const [w] = joinPieces(parseAll([frag], 2 ** 20));
    assert.equal(w.fin, false);
    assert.equal(w.opcode, 0);
  });
}

/** Parses chunks and returns the frames completed plus the error thrown. */
function parseError(chunks: Uint8Array[], maxFrameSize = LIMIT) {
  const p = new FrameParser({ maxFrameSize });
  const out: FramePiece[] = [];
  let error: unknown = null;
  try {
    for (const c of chunks) p.push(c, out);
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${error}`);
  assert.equal(p.failed, true);
  return { frames: out, error, parser: p };
}

const ERRORS: { name: string; bytes: Uint8Array; code: number }[] = [
  {
    name: "unmasked frame",
    bytes: clientFrame({ opcode: 1, payload: "hi", mask: false }),
    code: 1002,
  },
  { name: "RSV1 set", bytes: clientFrame({ opcode: 1, payload: "hi", rsv: 4 }), code: 1002 },
  { name: "RSV2 set", bytes: clientFrame({ opcode: 1, payload: "hi", rsv: 2 }), code: 1002 },
  { name: "RSV3 set", bytes: clientFrame({ opcode: 2, payload: "hi", rsv: 1 }), code: 1002 },
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((op) => ({
    name: `unknown opcode 0x${op.toString(16)}`,
    bytes: clientFrame({ opcode: op, payload: "x" }),
    code: 1002,
  })),
  {
    name: "ping over 125 bytes",
    bytes: clientFrame({ opcode: 9, payload: new Uint8Array(126) }),
    code: 1002,
  },
  {
    name: "close over 125 bytes",
    bytes: clientFrame({ opcode: 8, payload: new Uint8Array(200) }),
    code: 1002,
  },
  {
    name: "pong over 125 bytes (64-bit length form)",
    bytes: clientFrame({ opcode: 10, payload: new Uint8Array(126), lengthBits: 64 }),
    code: 1002,
  },
  {
    name: "fragmented ping",
    bytes: clientFrame({ opcode: 9, payload: "p", fin: false }),
    code: 1002,
  },
  {
    name: "fragmented close",
    bytes: clientFrame({ opcode: 8, payload: new Uint8Array([3, 0xe8]), fin: false }),
    code: 1002,
  },
  {
    name: "64-bit length with its most significant bit set",
    bytes: new Uint8Array([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]),
    code: 1002,
  },
];

for (const e of ERRORS) {
  Deno.test(`decoder error: ${e.name} → ${e.code}`, () => {
    const { error } = parseError([e.bytes.slice()]);
    assert.equal((error as ProtocolError).code, e.code);
    // The same verdict when the bytes trickle in one at a time.
    const bytes = e.bytes.slice();
    const chunks = [...bytes].map((_, i) => bytes.subarray(i, i + 1));
    const again = parseError(chunks);
    assert.equal((again.error as ProtocolError).code, e.code);
  });
}

Deno.test("decoder error: a frame over maxFrameSize → 1009 from the header alone", () => {
  // Only the header is fed: the verdict must not wait for the payload.
  const cases: [number, number[]][] = [
    // 16-bit length 1001 > 1000
    [1000, [0x82, 0xfe, 0x03, 0xe9, 1, 2, 3, 4]],
    // 64-bit length 2^32
    [1000, [0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]],
    // 7-bit length 100 > 99
    [99, [0x81, 0x80 | 100, 1, 2, 3, 4]],
    // 64-bit length 2^53 - 1
    [1000, [0x82, 0xff, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]],
  ];
  for (const [max, header] of cases) {
    const { error, frames } = parseError([new Uint8Array(header)], max);
    assert.equal((error as ProtocolError).code, 1009, `header ${header}`);
    assert.equal(frames.length, 0);
  }
  // Exactly maxFrameSize is fine.
  const ok = clientFrame({ opcode: 2, payload: new Uint8Array(1000) });
  assert.equal(joinPieces(parseAll([ok], 1000)).length, 1);
});

Deno.test("decoder error: 1009 for a header that arrives in two reads", () => {
  // The length in one read, the mask key in the next; still no payload.
  const header = new Uint8Array([0x82, 0xfe, 0xff, 0xff]);
  const p = new FrameParser({ maxFrameSize: 1000 });
  const out: FramePiece[] = [];
  let error: unknown = null;
  try {
    p.push(header, out);
    p.push(new Uint8Array([1, 2, 3, 4]), out);
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof ProtocolError);
  assert.equal(error.code, 1009);
});

Deno.test("decoder error: frames before the fault are still returned", () => {
  const good1 = clientFrame({ opcode: 1, payload: "one", maskKey: KEY });
  const good2 = clientFrame({ opcode: 9, payload: "two", maskKey: KEY });
  const bad = clientFrame({ opcode: 1, payload: "bad", mask: false });
  const after = clientFrame({ opcode: 1, payload: "after", maskKey: KEY });
  const { frames, error, parser } = parseError([concat([good1, good2, bad, after])]);
  assert.equal((error as ProtocolError).code, 1002);
  assert.deepEqual(
    frames.map((f) => [f.opcode, new TextDecoder().decode(f.payload)]),
    [[1, "one"], [9, "two"]],
  );
  // The parser is finished: further input is ignored.
  const more: FramePiece[] = [];
  parser.push(clientFrame({ opcode: 1, payload: "x" }), more);
  assert.equal(more.length, 0);
});

Deno.test("decoder error: a fault in a later chunk keeps the earlier chunks' frames", () => {
  const good = clientFrame({ opcode: 2, payload: patterned(300), maskKey: KEY });
  const bad = clientFrame({ opcode: 2, payload: "z", rsv: 4 });
  const { frames, error } = parseError([good.subarray(0, 50), concat([good.subarray(50), bad])]);
  assert.equal((error as ProtocolError).code, 1002);
  assert.deepEqual(joinPieces(frames)[0].payload, patterned(300));
});

Deno.test("FrameDecoder stream: one DecodedChunk per input chunk, error reported in order", async () => {
  const decoder = new FrameDecoder({ maxFrameSize: LIMIT });
  const writer = decoder.writable.getWriter();
  const reader = decoder.readable.getReader();
  const a = clientFrame({ opcode: 1, payload: "hello", maskKey: KEY });
  const b = clientFrame({ opcode: 2, payload: "bin", mask: false });
  const inputs = [a.subarray(0, 3), a.subarray(3), concat([a, b]), a.slice()];
  const results = [];
  for (const chunk of inputs) {
    const read = reader.read();
    await writer.write(chunk);
    const r = await read;
    assert.equal(r.done, false);
    results.push(r.value!);
  }
  // A partial header gives an empty batch, never no batch at all.
  assert.equal(results[0].frames.length, 0);
  assert.equal(results[0].error, null);
  assert.equal(new TextDecoder().decode(results[1].frames[0].payload), "hello");
  assert.equal(results[2].frames.length, 1);
  assert.equal(results[2].error?.code, 1002);
  // After the error, chunks decode to nothing.
  assert.equal(results[3].frames.length, 0);
  assert.equal(results[3].error, null);
  await writer.close();
  assert.equal((await reader.read()).done, true);
});

Deno.test("decoder: a data frame's header alone gives an empty first piece at once", () => {
  const payload = patterned(300);
  const f = clientFrame({ opcode: 2, payload, fin: false, maskKey: KEY });
  const hl = 4 + 4;
  const p = new FrameParser({ maxFrameSize: LIMIT });
  const out: FramePiece[] = [];
  p.push(f.subarray(0, hl), out);
  assert.equal(out.length, 1, "the header is passed on before any payload");
  assert.deepEqual(
    [out[0].first, out[0].offset, out[0].payload.length, out[0].end, out[0].length],
    [true, 0, 0, false, 300],
  );
  p.push(f.subarray(hl, hl + 10), out);
  p.push(f.subarray(hl + 10), out);
  assert.deepEqual(out.map((x) => [x.first, x.offset, x.payload.length, x.end]), [
    [true, 0, 0, false],
    [false, 0, 10, false],
    [false, 10, 290, true],
  ]);
  assert.deepEqual(joinPieces(out)[0].payload, payload);
});

Deno.test("decoder: exactly one piece of each frame is marked first, at every split point", () => {
  for (let split = 0; split <= 700; split++) {
    const stream = concat(SPECS.filter((s) => (s.payload?.length ?? 0) < 1000).map(clientFrame));
    const frames = parseAll([stream.subarray(0, split), stream.subarray(split)]);
    let open = false;
    for (const f of frames) {
      assert.equal(f.first, !open, `split ${split}: first flag`);
      if (f.first) assert.equal(f.offset, 0);
      open = !f.end;
    }
  }
});

Deno.test("decoder: a control frame's header alone gives nothing until its payload", () => {
  const ping = clientFrame({ opcode: 9, payload: "abc", maskKey: KEY });
  const p = new FrameParser({ maxFrameSize: LIMIT });
  const out: FramePiece[] = [];
  p.push(ping.subarray(0, 6), out);
  assert.equal(out.length, 0);
  p.push(ping.subarray(6), out);
  assert.equal(out.length, 1);
  assert.deepEqual([out[0].first, out[0].end], [true, true]);
  assert.equal(new TextDecoder().decode(out[0].payload), "abc");
});
