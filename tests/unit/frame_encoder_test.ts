// encodeFrames / FrameEncoder (src/protocol/frame_encoder.ts): header forms, no masking,
// coalescing of small frames, large payloads passed through uncopied.

import assert from "node:assert/strict";
import {
  COALESCE_LIMIT,
  encodeFrames,
  FrameEncoder,
  headerLength,
  IN_PLACE_MIN,
  writeHeader,
} from "../../src/protocol/frame_encoder.ts";
import type { Hold, OutFrame } from "../../src/protocol/frame.ts";
import { ByteReader, type ServerFrame } from "../support/raw_client.ts";
import { concat } from "../support/bytes.ts";

/** Parses server frames out of bytes with the test client's own (independent) reader. */
async function readFrames(bytes: Uint8Array): Promise<ServerFrame[]> {
  let pos = 0;
  const conn = {
    read(p: Uint8Array): Promise<number | null> {
      if (pos >= bytes.length) return Promise.resolve(null);
      const n = Math.min(p.length, bytes.length - pos);
      p.set(bytes.subarray(pos, pos + n));
      pos += n;
      return Promise.resolve(n);
    },
  } as unknown as Deno.Conn;
  const reader = new ByteReader(conn);
  const frames: ServerFrame[] = [];
  for (;;) {
    const f = await reader.frame();
    if (f === null) break;
    frames.push(f);
  }
  assert.ok(reader.eof, "no trailing bytes");
  return frames;
}

function frame(opcode: number, payload: Uint8Array | number, fin = true): OutFrame {
  return { opcode, fin, payload: typeof payload === "number" ? new Uint8Array(payload) : payload };
}

Deno.test("headerLength: 2, 4 and 10 bytes at the 7/16/64-bit boundaries", () => {
  assert.equal(headerLength(0), 2);
  assert.equal(headerLength(125), 2);
  assert.equal(headerLength(126), 4);
  assert.equal(headerLength(65535), 4);
  assert.equal(headerLength(65536), 10);
  assert.equal(headerLength(2 ** 32 + 1), 10);
});

Deno.test("writeHeader: the 7-bit, 16-bit and 64-bit forms, byte for byte", () => {
  const buf = new Uint8Array(12);
  assert.equal(writeHeader(buf, 0, 1, true, 0), 2);
  assert.deepEqual([...buf.subarray(0, 2)], [0x81, 0]);
  assert.equal(writeHeader(buf, 0, 2, true, 125), 2);
  assert.deepEqual([...buf.subarray(0, 2)], [0x82, 125]);
  assert.equal(writeHeader(buf, 0, 1, false, 126), 4);
  assert.deepEqual([...buf.subarray(0, 4)], [0x01, 126, 0, 126]);
  assert.equal(writeHeader(buf, 0, 0, true, 65535), 4);
  assert.deepEqual([...buf.subarray(0, 4)], [0x80, 126, 0xff, 0xff]);
  assert.equal(writeHeader(buf, 0, 2, true, 65536), 10);
  assert.deepEqual([...buf.subarray(0, 10)], [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  // Above 2^32: the high word is written too.
  assert.equal(writeHeader(buf, 2, 2, true, 2 ** 32 + 0x01020304), 12);
  assert.deepEqual([...buf.subarray(2, 12)], [0x82, 127, 0, 0, 0, 1, 1, 2, 3, 4]);
  // Largest 53-bit length.
  writeHeader(buf, 0, 2, true, Number.MAX_SAFE_INTEGER);
  assert.deepEqual(
    [...buf.subarray(0, 10)],
    [0x82, 127, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  );
  // Control opcodes.
  writeHeader(buf, 0, 0x8, true, 2);
  assert.deepEqual([...buf.subarray(0, 2)], [0x88, 2]);
  writeHeader(buf, 0, 0xa, true, 0);
  assert.deepEqual([...buf.subarray(0, 2)], [0x8a, 0]);
});

for (const n of [0, 1, 125, 126, 127, 65535, 65536, 2 ** 20]) {
  Deno.test(`encodeFrames: a ${n}-byte payload is framed minimally and never masked`, async () => {
    const payload = new Uint8Array(n);
    for (let i = 0; i < n; i++) payload[i] = (i * 7) & 0xff;
    const bytes = concat(encodeFrames([frame(2, payload)]).chunks);
    assert.equal(bytes.length, headerLength(n) + n);
    assert.equal(bytes[1] & 0x80, 0, "mask bit clear");
    assert.equal(bytes[0] & 0x70, 0, "RSV bits clear");
    const frames = await readFrames(bytes);
    assert.equal(frames.length, 1);
    assert.equal(frames[0].masked, false);
    assert.equal(frames[0].fin, true);
    assert.equal(frames[0].opcode, 2);
    assert.deepEqual(frames[0].payload, payload);
  });
}

Deno.test("encodeFrames: FIN and opcode of every frame kind, in order", async () => {
  const frames: OutFrame[] = [
    frame(1, new TextEncoder().encode("a"), false),
    frame(0, new TextEncoder().encode("b"), false),
    frame(0, new TextEncoder().encode("c"), true),
    frame(9, new Uint8Array([1])),
    frame(10, new Uint8Array([2])),
    frame(8, new Uint8Array([3, 0xe8])),
  ];
  const got = await readFrames(concat(encodeFrames(frames).chunks));
  assert.deepEqual(
    got.map((f) => [f.fin, f.opcode, f.masked, f.rsv, [...f.payload]]),
    frames.map((f) => [f.fin, f.opcode, false, 0, [...f.payload]]),
  );
});

Deno.test("encodeFrames: many small frames are coalesced into one chunk", async () => {
  const frames: OutFrame[] = [];
  for (let i = 0; i < 200; i++) frames.push(frame(i % 2 ? 2 : 1, new Uint8Array([i, i, i])));
  const chunks = encodeFrames(frames).chunks;
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0].length, 200 * 5);
  const got = await readFrames(chunks[0]);
  assert.equal(got.length, 200);
  got.forEach((f, i) => assert.deepEqual([...f.payload], [i, i, i]));
});

Deno.test("encodeFrames: frames just under the coalescing limit are copied together", () => {
  const a = new Uint8Array(COALESCE_LIMIT - 1).fill(1);
  const b = new Uint8Array(10).fill(2);
  const chunks = encodeFrames([frame(2, a), frame(2, b)]).chunks;
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0].length, 4 + a.length + 2 + b.length);
  assert.notEqual(chunks[0].buffer, a.buffer);
});

Deno.test("encodeFrames: a ≥64 KiB payload is passed on as its own chunk, uncopied", async () => {
  assert.equal(COALESCE_LIMIT, 64 * 1024);
  const small1 = new Uint8Array([1, 2, 3]);
  const large = new Uint8Array(COALESCE_LIMIT).fill(7);
  const small2 = new Uint8Array([4, 5]);
  const large2 = new Uint8Array(COALESCE_LIMIT * 3).fill(9);
  const chunks = encodeFrames([
    frame(2, small1),
    frame(2, large),
    frame(1, small2),
    frame(2, large2),
  ]).chunks;
  // [small1 + large's header], large, [small2 + large2's header], large2
  assert.equal(chunks.length, 4);
  assert.equal(chunks[1], large, "the same object, not a copy");
  assert.equal(chunks[3], large2, "the same object, not a copy");
  assert.equal(chunks[0].length, 2 + 3 + 10);
  assert.equal(chunks[2].length, 2 + 2 + 10);
  const got = await readFrames(concat(chunks));
  assert.deepEqual(got.map((f) => f.payload.length), [3, COALESCE_LIMIT, 2, COALESCE_LIMIT * 3]);
  assert.deepEqual(got[1].payload, large);
  assert.deepEqual(got[3].payload, large2);
});

Deno.test("encodeFrames: a large payload first, then small frames", async () => {
  const large = new Uint8Array(COALESCE_LIMIT + 5).fill(3);
  const chunks = encodeFrames([frame(2, large), frame(9, new Uint8Array([1])), frame(1, 0)]).chunks;
  assert.equal(chunks.length, 3);
  assert.equal(chunks[0].length, 10);
  assert.equal(chunks[1], large);
  assert.equal(chunks[2].length, 3 + 2);
  const got = await readFrames(concat(chunks));
  assert.deepEqual(got.map((f) => f.opcode), [2, 9, 1]);
});

Deno.test("encodeFrames: an empty batch gives no chunks", () => {
  assert.deepEqual(encodeFrames([]).chunks, []);
});

Deno.test("FrameEncoder: a TransformStream from frame batches to chunk batches", async () => {
  const encoder = new FrameEncoder();
  const writer = encoder.writable.getWriter();
  const reader = encoder.readable.getReader();
  const large = new Uint8Array(COALESCE_LIMIT).fill(4);
  const batches: OutFrame[][] = [
    [frame(1, new TextEncoder().encode("hello"))],
    [frame(2, new Uint8Array([1])), frame(9, new Uint8Array(0))],
    [frame(2, large)],
  ];
  const outs: Uint8Array[][] = [];
  for (const batch of batches) {
    const read = reader.read();
    await writer.write(batch);
    const r = await read;
    assert.equal(r.done, false);
    outs.push(r.value!.chunks);
  }
  assert.deepEqual([...outs[0][0]], [0x81, 5, ...new TextEncoder().encode("hello")]);
  assert.deepEqual([...outs[1][0]], [0x82, 1, 1, 0x89, 0]);
  assert.equal(outs[2].length, 2);
  assert.equal(outs[2][1], large);
  await writer.close();
  assert.equal((await reader.read()).done, true);
});

/** A payload of `n` bytes at offset `room` of its buffer, the bytes before it set to 0xee. */
function withRoom(n: number, room: number): Uint8Array {
  const buf = new Uint8Array(room + n).fill(0xee);
  const p = buf.subarray(room);
  for (let i = 0; i < n; i++) p[i] = i & 0xff;
  return p;
}

Deno.test("encodeFrames: a lone frame with headroom goes out in place, as one uncopied chunk", async () => {
  const payload = withRoom(IN_PLACE_MIN, 8);
  const chunks = encodeFrames([{ ...frame(2, payload), headroom: 8 }]).chunks;
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0].buffer, payload.buffer, "the payload's own buffer");
  assert.equal(chunks[0].byteOffset, 8 - 4, "the 4-byte header just before the payload");
  const [f] = await readFrames(chunks[0]);
  assert.equal(f.opcode, 2);
  assert.deepEqual(f.payload, payload);
});

Deno.test("encodeFrames: too little headroom, or too small a payload: copied as before", () => {
  const short = withRoom(IN_PLACE_MIN, 3); // a 4-byte header does not fit in 3
  assert.notEqual(
    encodeFrames([{ ...frame(2, short), headroom: 3 }]).chunks[0].buffer,
    short.buffer,
  );
  const small = withRoom(IN_PLACE_MIN - 1, 8);
  assert.notEqual(
    encodeFrames([{ ...frame(2, small), headroom: 8 }]).chunks[0].buffer,
    small.buffer,
  );
  assert.equal(new Uint8Array(short.buffer)[0], 0xee, "the bytes before it are untouched");
});

Deno.test("encodeFrames: in a batch, small frames are coalesced and a large one with headroom has its header in place", async () => {
  const large = withRoom(COALESCE_LIMIT, 10);
  const frames: OutFrame[] = [frame(1, new TextEncoder().encode("hi")), {
    ...frame(2, large),
    headroom: 10,
  }, frame(1, new TextEncoder().encode("after"))];
  const chunks = encodeFrames(frames).chunks;
  assert.equal(chunks.length, 3, "small run, the large frame in place, the small one after");
  assert.equal(chunks[0].length, 4, "the first run holds only the small frame");
  assert.equal(chunks[1].buffer, large.buffer);
  const got = await readFrames(concat(chunks));
  assert.deepEqual(got.map((f) => f.payload.length), [2, COALESCE_LIMIT, 5]);
  assert.deepEqual(got[1].payload, large);
});

Deno.test("encodeFrames: a copied payload's hold is released at once, an uncopied one's is passed on", () => {
  const released: string[] = [];
  const hold = (name: string): Hold => ({
    headroom: 0,
    release: () => void released.push(name),
    share: () => hold(name),
  });
  const small = frame(2, new Uint8Array(100));
  const large = frame(2, new Uint8Array(COALESCE_LIMIT));
  const batch = encodeFrames([
    { ...small, hold: hold("small") },
    { ...large, hold: hold("large") },
    frame(9, new Uint8Array(0)),
  ]);
  assert.deepEqual(released, ["small"], "copied: released during encoding");
  assert.equal(batch.holds.length, 1, "the large payload's hold waits for its write");
  batch.holds[0].release();
  assert.deepEqual(released, ["small", "large"]);
});
