// Reassembly buffers grow with the bytes that arrived, not with what a frame header declares;
// outgrown and finished buffers are freed at once; the rest of a large frame is still read in
// place. (Each of the first three failed on the code before this change.)

import assert from "node:assert/strict";
import { InputMemory, MemoryBudget } from "../../src/connection/input_memory.ts";
import { FrameParser } from "../../src/protocol/frame_decoder.ts";
import type { FramePiece } from "../../src/protocol/frame.ts";
import {
  allocateFresh,
  type AllocateMessage,
  MIN_MESSAGE_BUFFER,
  Session,
} from "../../src/protocol/session.ts";
import { clientFrame } from "../support/raw_client.ts";

const MIB = 1024 * 1024;
const DIRECT_READ_MIN = 16 * 1024; // the connection's threshold

/** The head of a masked binary frame declaring `length` payload bytes (mask key 0). */
function header(length: number, fin = true): Uint8Array {
  const h = new Uint8Array(14);
  h[0] = (fin ? 0x80 : 0) | 2;
  h[1] = 0x80 | 127;
  new DataView(h.buffer).setBigUint64(2, BigInt(length));
  return h; // mask key 0,0,0,0: payload bytes go as they are
}

function feed(session: Session, parser: FrameParser, chunk: Uint8Array): void {
  const frames: FramePiece[] = [];
  parser.push(chunk, frames);
  session.receive(frames);
}

Deno.test("session: a 16 MiB frame header with 1 KiB of payload allocates 64 KiB, not 16 MiB", () => {
  const sizes: number[] = [];
  const allocate: AllocateMessage = (size, max) => {
    sizes.push(size);
    return allocateFresh(size, max);
  };
  const session = new Session({ maxMessage: 16 * MIB, allocate });
  const parser = new FrameParser({ maxFrameSize: 16 * MIB });
  const chunk = new Uint8Array(14 + 1024);
  chunk.set(header(16 * MIB));
  feed(session, parser, chunk);
  assert.deepEqual(sizes, [MIN_MESSAGE_BUFFER]);
});

Deno.test("session: 8 MiB of a 16 MiB frame grows the buffer by doubling to 8 MiB, read in place", () => {
  const sizes: number[] = [];
  const allocate: AllocateMessage = (size, max) => {
    sizes.push(size);
    return allocateFresh(size, max);
  };
  const session = new Session({ maxMessage: 16 * MIB, allocate });
  const parser = new FrameParser({ maxFrameSize: 16 * MIB });
  feed(session, parser, header(16 * MIB));
  let arrived = 0, inPlace = 0, copied = 0;
  while (arrived < 8 * MIB) {
    const target = session.directReadTarget(DIRECT_READ_MIN);
    const n = Math.min(64 * 1024, 8 * MIB - arrived);
    let chunk: Uint8Array;
    if (target !== null) {
      chunk = target.subarray(0, Math.min(n, target.length));
      inPlace += chunk.length;
    } else {
      chunk = new Uint8Array(n);
      copied += n;
    }
    chunk.fill(arrived & 0xff);
    arrived += chunk.length;
    feed(session, parser, chunk);
  }
  assert.equal(sizes[0], MIN_MESSAGE_BUFFER);
  for (let i = 1; i < sizes.length; i++) assert.equal(sizes[i], sizes[i - 1] * 2, `doubling`);
  assert.equal(sizes.at(-1), 8 * MIB, "no more than what arrived (rounded up to a power of 2)");
  assert.ok(inPlace > copied * 4, `most bytes read in place (${inPlace} in place, ${copied})`);
});

Deno.test("session: a message of at most ONE_SHOT_MESSAGE bytes, end in sight, gets one buffer", () => {
  const sizes: number[] = [];
  const allocate: AllocateMessage = (size, max) => {
    sizes.push(size);
    return allocateFresh(size, max);
  };
  const session = new Session({ maxMessage: 16 * MIB, allocate });
  const parser = new FrameParser({ maxFrameSize: 16 * MIB });
  const payload = new Uint8Array(100_000).map((_, i) => i & 0xff);
  const wire = clientFrame({ opcode: 2, payload });
  for (let at = 0; at < wire.length; at += 1000) {
    feed(session, parser, wire.slice(at, at + 1000));
  }
  const m = session.next();
  assert.ok(m !== null);
  assert.deepEqual(m.data, payload);
  assert.deepEqual(sizes, [100_000], "its declared size, at once");
});

Deno.test("input memory: a message buffer grows in place, each byte counted, within the budget", () => {
  const budget = new MemoryBudget(1024 + 10 + 256 * 1024);
  const m = new InputMemory(budget);
  const slab = budget.held;
  const a = m.allocateMessage(64 * 1024, 16 * MIB)!;
  a.bytes.fill(7);
  const before = a.bytes.buffer;
  assert.equal(a.grow!(128 * 1024), true);
  assert.equal(a.bytes.buffer, before, "the same memory: nothing copied");
  assert.equal(a.bytes.length, 128 * 1024);
  assert.equal(a.bytes[64 * 1024 - 1], 7, "the data is kept");
  assert.equal(budget.held, slab + 10 + 128 * 1024);
  assert.equal(a.grow!(512 * 1024), false, "over the budget: refused");
  assert.deepEqual(m.refused, { wanted: 384 * 1024, held: budget.held, limit: budget.limit });
  a.release(); // finished: kept for the next message
  assert.equal(a.bytes.length, 128 * 1024);
  m.dispose();
  assert.equal(a.bytes.length, 0, "freed when the connection ends, not at some GC");
  assert.equal(budget.held, 0);
});

Deno.test("session: a message over InputMemory grows its one buffer in place", () => {
  const m = new InputMemory(new MemoryBudget());
  const session = new Session({ maxMessage: 16 * MIB, allocate: m.allocateMessage });
  const parser = new FrameParser({ maxFrameSize: 16 * MIB });
  const payload = new Uint8Array(1_000_000).map((_, i) => (i * 13) & 0xff);
  const wire = clientFrame({ opcode: 2, payload });
  for (let at = 0; at < wire.length; at += 50_000) {
    feed(session, parser, wire.slice(at, at + 50_000));
  }
  const msg = session.next();
  assert.ok(msg !== null);
  assert.deepEqual(msg.data, payload);
  assert.equal(m.bytes, 1024 + 10 + 1_000_000, "one slab, one buffer the size of the message");
  msg.hold?.release();
  m.dispose();
});

Deno.test("input memory: a buffer still claimed at the end is freed when released, a kept one never", () => {
  const m = new InputMemory(new MemoryBudget());
  const a = m.allocateMessage(1000, MIB)!;
  const b = m.allocateMessage(1000, MIB)!;
  m.keep(b); // the application kept its message
  m.dispose();
  assert.equal(a.bytes.length, 1000, "still claimed (a write in flight, say)");
  a.release();
  assert.equal(a.bytes.length, 0);
  assert.equal(b.bytes.length, 1000, "the application's");
});

Deno.test("session: a buffer that cannot grow in place is replaced by a larger one, data kept", () => {
  let made = 0;
  // Buffers that refuse to grow in place (as a fixed ArrayBuffer does): null.
  const allocate: AllocateMessage = (size, max) => {
    made++;
    return { ...allocateFresh(size, max)!, grow: () => null };
  };
  const session = new Session({ maxMessage: 16 * MIB, allocate });
  const parser = new FrameParser({ maxFrameSize: 16 * MIB });
  const payload = new Uint8Array(1_500_000).map((_, i) => (i * 7) & 0xff);
  const wire = clientFrame({ opcode: 2, payload });
  for (let at = 0; at < wire.length; at += 100_000) {
    feed(session, parser, wire.slice(at, at + 100_000));
  }
  const m = session.next();
  assert.ok(m !== null, "not refused (null is not 'over budget')");
  assert.deepEqual(m.data, payload);
  // 100,000 (the first piece), then doubled: 200,000, 400,000, 800,000, then the declared end.
  assert.equal(made, 5);
});
