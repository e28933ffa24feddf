// A seeded property test of the receive path: random frame sequences (valid and hostile: bad
// bits, unknown opcodes, unmasked or oversized frames, stray continuations, invalid UTF-8 and
// close payloads, messages over the limit) go through the real FrameParser, Session and
// InputMemory, read in random pieces (and straight into reassembly buffers when offered, as the
// connection does), and must give exactly what a small reference decoder written here says:
// the same messages, the same pongs, the same closing frame, in the same order.

import assert from "node:assert/strict";
import { InputMemory, MemoryBudget } from "../../src/connection/input_memory.ts";
import { FrameParser } from "../../src/protocol/frame_decoder.ts";
import { type FramePiece, ProtocolError } from "../../src/protocol/frame.ts";
import { Session } from "../../src/protocol/session.ts";

const SEQUENCES = 400;
const MAX_MESSAGE = 40_000;
const DIRECT_READ_MIN = 16 * 1024; // the connection's threshold

/** mulberry32: a small seeded PRNG, so that a failing seed can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return {
    int,
    chance: (p: number) => next() < p,
    pick: <T>(xs: T[]) => xs[int(0, xs.length - 1)],
  };
}
type Rng = ReturnType<typeof prng>;

// ---- what the peer sends -------------------------------------------------------------------

/** One frame as the generator means it (before masking). */
interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Uint8Array;
  masked: boolean;
  /** Declared length when it differs from the payload (a frame the test cuts short). */
  declared?: number;
}

function encode(f: Frame, r: Rng): Uint8Array {
  const len = f.declared ?? f.payload.length;
  const ext = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const out = new Uint8Array(2 + ext + (f.masked ? 4 : 0) + f.payload.length);
  out[0] = (f.fin ? 0x80 : 0) | (f.rsv << 4) | f.opcode;
  out[1] = (f.masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (ext === 2) view.setUint16(2, len);
  if (ext === 8) view.setBigUint64(2, BigInt(len));
  let at = 2 + ext;
  const key = [r.int(0, 255), r.int(0, 255), r.int(0, 255), r.int(0, 255)];
  if (f.masked) {
    out.set(key, at);
    at += 4;
  }
  for (let i = 0; i < f.payload.length; i++) {
    out[at + i] = f.masked ? f.payload[i] ^ key[i & 3] : f.payload[i];
  }
  return out;
}

const SAMPLES = ["a", "é", "€", "𝄞", " ", "z", "ß", "中"];

function text(r: Rng, n: number): Uint8Array {
  let s = "";
  while (s.length < n) {
    s += r.chance(0.8) ? String.fromCharCode(r.int(0x20, 0x7e)) : r.pick(SAMPLES);
  }
  return new TextEncoder().encode(s);
}

function binary(r: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r.int(0, 255);
  return b;
}

function size(r: Rng): number {
  const k = r.int(0, 9);
  return k < 5 ? r.int(0, 40) : k < 8 ? r.int(100, 3000) : r.int(10_000, 30_000);
}

// A sequence: messages (fragmented at random), pings and pongs between fragments, now and then
// a hostile frame, and perhaps a close at the end.
function sequence(r: Rng): Frame[] {
  const frames: Frame[] = [];
  const ok = (opcode: number, payload: Uint8Array, fin = true): Frame => ({
    fin,
    rsv: 0,
    opcode,
    payload,
    masked: true,
  });
  const control = () => {
    const k = r.int(0, 9);
    if (k < 6) frames.push(ok(0x9, binary(r, r.int(0, 125))));
    else if (k < 9) frames.push(ok(0xa, binary(r, r.int(0, 20))));
    else frames.push(ok(0x9, binary(r, r.int(126, 200)))); // too long for a control frame
  };
  const count = r.int(1, 8);
  for (let m = 0; m < count; m++) {
    const isText = r.chance(0.5);
    const data = r.chance(0.03)
      ? binary(r, MAX_MESSAGE + r.int(1, 100))
      : isText
      ? text(r, size(r))
      : binary(r, size(r));
    if (isText && r.chance(0.08)) data[r.int(0, Math.max(0, data.length - 1))] = 0xff;
    const parts = r.int(1, 4);
    let start = 0;
    for (let p = 0; p < parts; p++) {
      const end = p === parts - 1 ? data.length : r.int(start, data.length);
      frames.push(
        ok(p === 0 ? (isText ? 0x1 : 0x2) : 0x0, data.slice(start, end), p === parts - 1),
      );
      start = end;
      if (r.chance(0.2)) control();
    }
    if (r.chance(0.15)) control();
    if (r.chance(0.06)) {
      const f = ok(r.pick([0x1, 0x2, 0x0]), binary(r, r.int(0, 30)));
      const k = r.int(0, 5);
      if (k === 0) f.rsv = r.int(1, 7);
      else if (k === 1) f.opcode = r.pick([0x3, 0x4, 0x7, 0xb, 0xf]);
      else if (k === 2) f.masked = false;
      else if (k === 3) f.opcode = 0x0; // a continuation with no message
      else if (k === 4) f.fin = false; // a message left open
      else f.opcode = 0x8; // a fragmented close frame
      frames.push(f);
    }
  }
  if (r.chance(0.5)) {
    const k = r.int(0, 5);
    const reason = k === 4 ? new Uint8Array([0xc3]) : text(r, r.int(0, 20));
    const code = k === 1 ? 999 : k === 2 ? 1005 : r.pick([1000, 1001, 3000, 4999]);
    const payload = k === 0
      ? new Uint8Array(0)
      : k === 3
      ? new Uint8Array([0x03])
      : new Uint8Array([code >> 8, code & 0xff, ...reason]);
    frames.push(ok(0x8, payload));
    if (r.chance(0.3)) frames.push(ok(0x1, text(r, 5))); // after the close: ignored
  }
  return frames;
}

// ---- the reference decoder -----------------------------------------------------------------

type Out =
  | { kind: "message"; type: "text" | "binary"; data: number[] }
  | { kind: "pong"; data: number[] }
  | { kind: "close"; payload: number[] };

// Valid as the start of some UTF-8 text: decodable once an incomplete last character is cut.
function validPrefix(b: Uint8Array): boolean {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (let cut = 0; cut <= Math.min(3, b.length); cut++) {
    const head = b.subarray(0, b.length - cut), tail = b.subarray(b.length - cut);
    try {
      decoder.decode(head);
    } catch {
      continue;
    }
    if (cut === 0) return true;
    // The tail must be completable: try every second byte, then plain continuation bytes.
    for (let second = 0x80; second <= 0xbf; second++) {
      const full = new Uint8Array(4);
      full.set(tail);
      const want = tail[0] >= 0xf0 ? 4 : tail[0] >= 0xe0 ? 3 : 2;
      if (tail.length >= want) break;
      for (let i = tail.length; i < want; i++) full[i] = i === 1 ? second : 0x80;
      try {
        decoder.decode(full.subarray(0, want));
        return true;
      } catch { /* try the next */ }
    }
  }
  return false;
}

function validCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014].includes(code);
}

/** What RFC 6455 says the server answers to `frames`, written as plainly as possible. */
function reference(frames: Frame[]): Out[] {
  const out: Out[] = [];
  const fail = (code: number) => out.push({ kind: "close", payload: [code >> 8, code & 0xff] });
  let msg: { type: "text" | "binary"; data: number[] } | null = null;
  for (const f of frames) {
    const len = f.declared ?? f.payload.length;
    const control = f.opcode >= 0x8;
    // Header checks: every 1002 cause before the size (1009).
    if (!f.masked || f.rsv !== 0 || (f.opcode > 0x2 && f.opcode < 0x8) || f.opcode > 0xa) {
      fail(1002);
      return out;
    }
    if (control && (!f.fin || len > 125)) {
      fail(1002);
      return out;
    }
    if (len > MAX_MESSAGE) {
      fail(1009);
      return out;
    }
    if (control) {
      if (f.opcode === 0x9) out.push({ kind: "pong", data: [...f.payload] });
      if (f.opcode !== 0x8) continue;
      const p = f.payload;
      if (p.length === 1) fail(1002);
      else if (p.length >= 2 && !validCloseCode((p[0] << 8) | p[1])) fail(1002);
      else if (p.length >= 2 && !isComplete(p.subarray(2))) fail(1007);
      else out.push({ kind: "close", payload: [...p] });
      return out;
    }
    if (f.opcode === 0x0 && msg === null) {
      fail(1002);
      return out;
    }
    if (f.opcode !== 0x0 && msg !== null) {
      fail(1002);
      return out;
    }
    msg ??= { type: f.opcode === 0x1 ? "text" : "binary", data: [] };
    if (msg.data.length + len > MAX_MESSAGE) {
      fail(1009);
      return out;
    }
    msg.data.push(...f.payload);
    if (msg.type === "text" && !validPrefix(new Uint8Array(msg.data))) {
      fail(1007);
      return out;
    }
    if (!f.fin) continue;
    if (msg.type === "text" && !isComplete(new Uint8Array(msg.data))) {
      fail(1007);
      return out;
    }
    out.push({ kind: "message", ...msg });
    msg = null;
  }
  return out;
}

function isComplete(b: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

// ---- the real path -------------------------------------------------------------------------

/** Feeds `wire` as the connection does, in random reads; returns what the session put out. */
function real(wire: Uint8Array, r: Rng): Out[] {
  const memory = new InputMemory(new MemoryBudget());
  const session = new Session({ maxMessage: MAX_MESSAGE, allocate: memory.allocateMessage });
  const parser = new FrameParser({ maxFrameSize: MAX_MESSAGE });
  const out: Out[] = [];
  const collect = () => {
    for (;;) {
      const m = session.next();
      for (const f of session.takeOutbox() ?? []) {
        if (f.opcode === 0xa) out.push({ kind: "pong", data: [...f.payload] });
        if (f.opcode === 0x8) out.push({ kind: "close", payload: [...f.payload] });
        f.hold?.release();
      }
      if (m === null) return;
      out.push({ kind: "message", type: m.type, data: [...m.data] });
      m.hold?.release();
    }
  };
  let pos = 0;
  while (pos < wire.length && session.state === "OPEN") {
    const want = r.chance(0.1) ? 1 : r.int(1, 70_000);
    const target = session.directReadTarget(DIRECT_READ_MIN);
    const room = target ?? memory.readBuffer();
    const n = Math.min(want, room.length, wire.length - pos);
    room.set(wire.subarray(pos, pos + n));
    pos += n;
    const chunk = target !== null ? target.subarray(0, n) : memory.commit(n);
    const frames: FramePiece[] = [];
    try {
      parser.push(chunk, frames);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      session.receive(frames);
      session.fail(err, { brokenInput: true });
      collect();
      break;
    }
    session.receive(frames);
    collect();
  }
  collect();
  memory.dispose();
  return out;
}

Deno.test("frames: random sequences, read in random pieces, match the reference decoder", () => {
  for (let seed = 1; seed <= SEQUENCES; seed++) {
    const r = prng(seed);
    const frames = sequence(r);
    const wire = new Uint8Array(frames.reduce((n, f) => n + f.payload.length + 14, 0));
    let at = 0;
    for (const f of frames) {
      const b = encode(f, r);
      wire.set(b, at);
      at += b.length;
    }
    // Close frames compare by code: a failure's reason is the server's own text.
    const codeOnly = (o: Out[]) =>
      o.map((e) => e.kind === "close" ? { ...e, payload: e.payload.slice(0, 2) } : e);
    const expected = codeOnly(reference(frames));
    const got = codeOnly(real(wire.subarray(0, at), r));
    const summary = (o: Out[]) =>
      o.map((e) =>
        e.kind === "message"
          ? `${e.type}(${e.data.length})`
          : e.kind === "pong"
          ? `pong(${e.data.length})`
          : `close(${e.payload.length >= 2 ? (e.payload[0] << 8) | e.payload[1] : "-"})`
      ).join(" ");
    assert.equal(summary(got), summary(expected), `seed ${seed}`);
    assert.deepEqual(got, expected, `seed ${seed}: bytes differ`);
  }
});
