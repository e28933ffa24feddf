// The decoder and the session together, as a connection drives them: frames decoded from bytes
// in reads of any size, and the rest of a large frame read straight into the reassembly buffer
// whenever Session.directReadTarget offers it. (Frames come from the real FrameParser, so these
// tests do not depend on how a Frame is spelled.)

import assert from "node:assert/strict";
import { decodeChunk, FrameParser } from "../../src/protocol/frame_decoder.ts";
import type { FramePiece } from "../../src/protocol/frame.ts";
import { type Message, Session } from "../../src/protocol/session.ts";
import { clientFrame } from "../support/raw_client.ts";
import { concat } from "../support/bytes.ts";

const DIRECT_READ_MIN = 16 * 1024; // the connection's threshold

function patterned(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed + (i >>> 11)) & 0xff;
  return b;
}

/** A tiny deterministic PRNG (xorshift32). */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

interface Driver {
  session: Session;
  messages: Message[];
  directReads: number;
}

/**
 * Feeds `wire` as a connection would: each read is at most `readSize(i)` bytes, and when the
 * session offers a direct-read target the bytes are copied into it and that view is the chunk.
 */
function drive(wire: Uint8Array, readSize: (i: number) => number, maxMessage = 1 << 22): Driver {
  const session = new Session({ maxMessage: maxMessage });
  const parser = new FrameParser({ maxFrameSize: maxMessage });
  const messages: Message[] = [];
  let directReads = 0;
  let pos = 0;
  for (let i = 0; pos < wire.length; i++) {
    const target = session.directReadTarget(DIRECT_READ_MIN);
    let chunk: Uint8Array;
    if (target !== null) {
      const n = Math.min(target.length, wire.length - pos, Math.max(1, readSize(i)));
      target.set(wire.subarray(pos, pos + n));
      chunk = target.subarray(0, n);
      directReads++;
      pos += n;
    } else {
      const n = Math.min(wire.length - pos, Math.max(1, readSize(i)));
      chunk = wire.slice(pos, pos + n); // the reader owns each chunk
      pos += n;
    }
    const frames: FramePiece[] = [];
    parser.push(chunk, frames);
    session.receive(frames);
    for (let m = session.next(); m !== null; m = session.next()) {
      messages.push({ type: m.type, data: m.data.slice() } as Message);
    }
  }
  return { session, messages, directReads };
}

/** Client frames for `payload` split into fragments at `cuts`. */
function fragmented(opcode: number, payload: Uint8Array, cuts: number[]): Uint8Array {
  const frames: Uint8Array[] = [];
  let start = 0;
  const ends = [...cuts, payload.length];
  ends.forEach((end, i) => {
    frames.push(clientFrame({
      opcode: i === 0 ? opcode : 0,
      payload: payload.subarray(start, end),
      fin: i === ends.length - 1,
    }));
    start = end;
  });
  return concat(frames);
}

function assertMessage(got: Message | undefined, type: string, data: Uint8Array, where: string) {
  assert.ok(got !== undefined, `${where}: no message`);
  assert.equal(got.type, type, where);
  assert.equal(got.data.length, data.length, `${where}: length`);
  for (let i = 0; i < data.length; i++) {
    if (got.data[i] !== data[i]) assert.fail(`${where}: byte ${i} differs`);
  }
}

Deno.test("session+decoder: a large single frame read in pieces, the rest read in place", () => {
  const payload = patterned(200_000);
  const wire = clientFrame({ opcode: 2, payload });
  const d = drive(wire, () => 1000);
  assert.equal(d.messages.length, 1);
  assertMessage(d.messages[0], "binary", payload, "single frame");
  assert.ok(d.directReads > 0, "the rest of the frame was read in place");
});

Deno.test("session+decoder: a continuation larger than the buffer's spare room, read in pieces", () => {
  // 1-byte first fragment, then a 20 000-byte continuation whose header and first 100 bytes
  // come in one read: the rest of that frame does not fit what the first fragment allocated.
  const first = clientFrame({ opcode: 2, payload: new Uint8Array([0xab]), fin: false });
  const rest = patterned(20_000, 3);
  const second = clientFrame({ opcode: 0, payload: rest, fin: true });
  const wire = concat([first, second]);
  const reads = [first.length, 8 + 100];
  const d = drive(wire, (i) => reads[i] ?? 4096);
  assert.equal(d.messages.length, 1);
  assertMessage(d.messages[0], "binary", concat([new Uint8Array([0xab]), rest]), "message");
});

Deno.test("session+decoder: a growing fragment after a large one (buffer doubling)", () => {
  // 100 000, 1, then 150 001 bytes: the third frame's first piece fits the doubled buffer,
  // its whole length does not.
  const payload = patterned(250_002, 5);
  const wire = fragmented(2, payload, [100_000, 100_001]);
  const d = drive(wire, () => 7777);
  assert.equal(d.messages.length, 1);
  assertMessage(d.messages[0], "binary", payload, "message");
});

Deno.test("session+decoder: a large fragmented text message in odd reads", () => {
  const text = "ascii ü € 𝄞 ".repeat(20_000);
  const payload = new TextEncoder().encode(text);
  const wire = fragmented(1, payload, [1, 100_001, 100_002, 250_003]);
  const d = drive(wire, () => 7777);
  assert.equal(d.messages.length, 1);
  assert.equal(d.messages[0].type, "text");
  assert.ok(new TextDecoder().decode(d.messages[0].data) === text, "text intact");
});

Deno.test("session+decoder: random fragmentations and read sizes give the same messages", () => {
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(seed * 7919);
    // A few messages, text or binary, fragmented at random, some with pings in between.
    const want: { type: string; data: Uint8Array }[] = [];
    const parts: Uint8Array[] = [];
    const count = 1 + r(4);
    for (let k = 0; k < count; k++) {
      const size = [0, 1, 125, 5000, 20_000, 70_000, 150_000][r(7)] + r(300);
      const binary = r(2) === 0;
      const data = binary
        ? patterned(size, seed + k)
        : new TextEncoder().encode("é€𝄞a".repeat(Math.ceil(size / 10)));
      const cuts: number[] = [];
      const nCuts = r(5);
      for (let c = 0; c < nCuts; c++) cuts.push(r(data.length + 1));
      cuts.sort((a, b) => a - b);
      const frames: Uint8Array[] = [];
      let start = 0;
      const ends = [...cuts, data.length];
      ends.forEach((end, i) => {
        frames.push(clientFrame({
          opcode: i === 0 ? (binary ? 2 : 1) : 0,
          payload: data.subarray(start, end),
          fin: i === ends.length - 1,
        }));
        if (r(4) === 0) frames.push(clientFrame({ opcode: 9, payload: "p" }));
        start = end;
      });
      parts.push(...frames);
      want.push({ type: binary ? "binary" : "text", data });
    }
    const wire = concat(parts);
    const sizes = [1, 7, 100, 1000, 4096, 16 * 1024, 65536];
    const d = drive(wire, () => sizes[r(sizes.length)] + r(50));
    assert.equal(d.messages.length, want.length, `seed ${seed}: message count`);
    want.forEach((w, i) =>
      assertMessage(d.messages[i], w.type, w.data, `seed ${seed} message ${i}`)
    );
    assert.equal(d.session.state, "OPEN", `seed ${seed}`);
  }
});

Deno.test("session+decoder: directReadTarget never extends past its buffer", () => {
  // Whatever it offers must be a view of exactly the rest of the current frame.
  const first = clientFrame({ opcode: 1, payload: "x", fin: false });
  const second = clientFrame({ opcode: 0, payload: patterned(40_000).fill(0x61), fin: true });
  const session = new Session({ maxMessage: 1 << 20 });
  const parser = new FrameParser({ maxFrameSize: 1 << 20 });
  const frames: FramePiece[] = [];
  parser.push(first.slice(), frames);
  parser.push(second.slice(0, 8 + 10), frames);
  session.receive(frames);
  const target = session.directReadTarget(DIRECT_READ_MIN);
  if (target !== null) {
    assert.equal(target.length, 40_000 - 10);
    assert.ok(target.byteOffset + target.length <= target.buffer.byteLength);
  }
});

/** Decodes `bytes` into `session` and returns the close code it then sends, if any. */
function closeCodeAfter(session: Session, parser: FrameParser, bytes: Uint8Array): number | null {
  const { frames, error } = decodeChunk(parser, bytes);
  session.receive(frames);
  if (error !== null) session.fail(error, { brokenInput: true });
  while (session.next() !== null);
  const out = session.takeOutbox() ?? [];
  const close = out.find((o) => o.opcode === 8);
  return close === undefined ? null : (close.payload[0] << 8) | close.payload[1];
}

Deno.test("session+decoder: 1009 for a fragment over the limit as soon as its header arrives", () => {
  const session = new Session({ maxMessage: 1000 });
  const parser = new FrameParser({ maxFrameSize: 1000 });
  const first = clientFrame({ opcode: 2, payload: patterned(600), fin: false });
  assert.equal(closeCodeAfter(session, parser, first), null);
  // Only the header of a 600-byte continuation: 600 + 600 > 1000 is already known.
  const second = clientFrame({ opcode: 0, payload: patterned(600), fin: true });
  assert.equal(closeCodeAfter(session, parser, second.subarray(0, 8)), 1009);
});

Deno.test("session+decoder: 1002 for a stray continuation as soon as its header arrives", () => {
  const session = new Session({ maxMessage: 1 << 20 });
  const parser = new FrameParser({ maxFrameSize: 1 << 20 });
  const stray = clientFrame({ opcode: 0, payload: patterned(5000), fin: true });
  assert.equal(closeCodeAfter(session, parser, stray.subarray(0, 8)), 1002);
});

Deno.test("session+decoder: 1002 for a new message inside a fragmented one, from its header", () => {
  const session = new Session({ maxMessage: 1 << 20 });
  const parser = new FrameParser({ maxFrameSize: 1 << 20 });
  assert.equal(
    closeCodeAfter(session, parser, clientFrame({ opcode: 1, payload: "a", fin: false })),
    null,
  );
  const text = clientFrame({ opcode: 1, payload: patterned(5000).fill(0x61) });
  assert.equal(closeCodeAfter(session, parser, text.subarray(0, 8)), 1002);
});
