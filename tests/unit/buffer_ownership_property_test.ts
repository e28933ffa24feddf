// A seeded property test of input-memory ownership. Random schedules over a fake socket: frames
// of every size, fragmented and cut at random points across reads, pings between fragments,
// bytes that came with the request head, writes that complete at once, later or fail; and an
// application that keeps, hands back, sends plainly, sends twice, sends on another connection
// (and then hands back), greets first and asks for messages with overlapping next() calls. Whatever the schedule:
// - every byte the application still holds stays as it was delivered;
// - every echo and pong goes out byte for byte as it was received;
// - every byte of input memory is given back when the connections end;
// - when everything is handed back and written at once, every read reuses the same memory.

import assert from "node:assert/strict";
import { WebSocketConnection } from "../../src/connection/connection.ts";
import { InputMemory, MemoryBudget } from "../../src/connection/input_memory.ts";
import { PeerGone, type Socket } from "../../src/connection/socket.ts";
import type { Message } from "../../src/protocol/session.ts";
import { concat } from "../support/bytes.ts";
import { clientFrame, closePayload } from "../support/raw_client.ts";

const SCHEDULES = 300;
const REUSE_SCHEDULES = 100;

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
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p: number) => next() < p,
    bytes(n: number, text: boolean): Uint8Array {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = text ? 0x20 + Math.floor(next() * 95) : next() * 256;
      return out;
    },
  };
}
type Rng = ReturnType<typeof prng>;

/** What the peer sends: its bytes, and the payloads the server must echo or pong, in order. */
interface Script {
  bytes: Uint8Array;
  pings: Uint8Array[];
  closes: boolean;
}

function script(r: Rng, sizes: () => number, withPings: boolean, fragments: boolean): Script {
  const frames: Uint8Array[] = [];
  const pings: Uint8Array[] = [];
  const key = () => r.bytes(4, false);
  const count = r.int(1, 12);
  for (let m = 0; m < count; m++) {
    const text = r.chance(0.5);
    const data = r.bytes(sizes(), text);
    const parts = fragments ? r.int(1, 3) : 1;
    for (let p = 0; p < parts; p++) {
      const from = Math.floor((data.length * p) / parts);
      const to = Math.floor((data.length * (p + 1)) / parts);
      frames.push(clientFrame({
        opcode: p === 0 ? (text ? 1 : 2) : 0,
        fin: p === parts - 1,
        payload: data.subarray(from, to),
        maskKey: key(),
      }));
      if (withPings && r.chance(0.2)) {
        const payload = r.bytes(r.int(0, 20), false);
        pings.push(payload);
        frames.push(clientFrame({ opcode: 9, payload, maskKey: key() }));
      }
    }
  }
  const closes = r.chance(0.7);
  if (closes) frames.push(clientFrame({ opcode: 8, payload: closePayload(1000), maskKey: key() }));
  return { bytes: concat(frames), pings, closes };
}

function sizeOf(r: Rng): number {
  const k = r.next();
  if (k < 0.4) return r.int(0, 40);
  if (k < 0.7) return r.int(100, 700);
  if (k < 0.9) return r.int(2_000, 20_000);
  return r.int(60_000, 140_000);
}

/** A server frame read back from what the connection wrote. */
interface Out {
  opcode: number;
  fin: boolean;
  payload: Uint8Array;
}

function parseWritten(bytes: Uint8Array): Out[] {
  const out: Out[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const b0 = bytes[at], b1 = bytes[at + 1];
    assert.equal(b1 & 0x80, 0, "server frames are never masked");
    let len = b1 & 0x7f, h = 2;
    if (len === 126) [len, h] = [(bytes[at + 2] << 8) | bytes[at + 3], 4];
    else if (len === 127) {
      len = Number(new DataView(bytes.buffer, bytes.byteOffset + at + 2, 8).getBigUint64(0));
      h = 10;
    }
    if (at + h + len > bytes.length) break; // cut short by a failed write
    out.push({
      opcode: b0 & 0x0f,
      fin: (b0 & 0x80) !== 0,
      payload: bytes.slice(at + h, at + h + len),
    });
    at += h + len;
  }
  return out;
}

/**
 * A socket reading `input` in pieces cut at random points (never more than the buffer offered),
 * recording writes; writes complete at once, later (at a later read or on the next macrotask),
 * or fail.
 */
function fakeSocket(r: Rng, input: Uint8Array, writes: { later: number; fail: number }) {
  const offered: Uint8Array[] = [];
  const written: Uint8Array[] = [];
  const pending: (() => void)[] = [];
  let at = 0, failed = false;
  const releasePending = () => {
    for (const f of pending.splice(0)) f();
  };
  const socket: Socket = {
    read(p) {
      offered.push(p);
      if (r.chance(0.5)) releasePending();
      if (at >= input.length) {
        releasePending();
        return Promise.resolve(null);
      }
      const n = Math.min(
        p.length,
        input.length - at,
        r.chance(0.3) ? r.int(1, 64) : r.int(1, 9000),
      );
      p.set(input.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
    write(p) {
      if (failed || r.chance(writes.fail)) {
        failed = true;
        return Promise.reject(new PeerGone("reset"));
      }
      // The bytes are taken when the write completes: anything overwritten before is caught.
      const take = () => written.push(p.slice());
      if (!r.chance(writes.later)) {
        take();
        return Promise.resolve(p.length);
      }
      // Completed at a later read, or on the next turn of the event loop at the latest.
      if (pending.length === 0) setTimeout(releasePending, 0);
      return new Promise((resolve) => pending.push(() => (take(), resolve(p.length))));
    },
    closeWrite: () => Promise.resolve(),
    close: releasePending,
    remote: { hostname: "127.0.0.1", port: 1 },
  };
  return { socket, offered, written, writeFailed: () => failed };
}

const OPTIONS = { maxMessage: 1 << 20, closeTimeout: 5_000, maxBackpressure: 256 * 1024 };

/** A connection over `socket`; its first read may carry a request head before the frames. */
async function connect(
  r: Rng,
  socket: Socket,
  budget: MemoryBudget,
): Promise<WebSocketConnection> {
  const memory = new InputMemory(budget);
  let initial: Uint8Array | undefined;
  if (r.chance(0.4)) {
    // As the server reads a head: the bytes after it are a view of the same slab.
    const into = memory.readBuffer();
    const head = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    into.set(head);
    const n = await socket.read(into.subarray(head.length));
    initial = memory.commit(head.length + (n ?? 0)).subarray(head.length);
  }
  return new WebSocketConnection(socket, { options: OPTIONS, memory, initial });
}

Deno.test(`buffer ownership: ${SCHEDULES} random schedules keep every held byte intact and give all memory back`, async () => {
  for (let seed = 1; seed <= SCHEDULES; seed++) {
    const r = prng(seed);
    const sc = script(r, () => sizeOf(r), true, true);
    const writes = { later: r.chance(0.5) ? 0.5 : 0, fail: r.chance(0.1) ? 0.02 : 0 };
    const a = fakeSocket(r, sc.bytes, writes);
    const budget = new MemoryBudget();
    const ws = await connect(r, a.socket, budget);
    if (!await ws.open(new Uint8Array([0x68, 0x69]))) { // the "101" could not be written
      await ws.close();
      assert.equal(budget.held, 0, `seed ${seed}: memory given back after a failed open`);
      continue;
    }
    // A second connection, for sends of A's messages elsewhere.
    const b = fakeSocket(r, new Uint8Array(0), { later: 0.5, fail: 0 });
    const other = new WebSocketConnection(b.socket, { options: OPTIONS });
    assert.ok(await other.open(new Uint8Array(1)));
    const kept: { m: Message; copy: Uint8Array }[] = [];
    const sent: Uint8Array[] = []; // what A must write, in order
    const elsewhere: Uint8Array[] = []; // what B must write, in order
    if (r.chance(0.3)) {
      await ws.send("greeting"); // a send before the first read
      sent.push(new TextEncoder().encode("greeting"));
    }
    const handle = async (m: Message) => {
      const copy = m.data.slice();
      const k = r.next();
      // Sends after the closing handshake began are dropped (with overlapping next() calls, the
      // second one may have applied the peer's close).
      const open = ws.state === "OPEN";
      const echoes = open ? sent : [];
      if (k < 0.45) {
        echoes.push(copy);
        await ws.send(m, { transfer: true });
      } else if (k < 0.65) {
        kept.push({ m, copy });
      } else if (k < 0.8) {
        echoes.push(copy);
        kept.push({ m, copy });
        await ws.send(m);
      } else if (k < 0.92) {
        echoes.push(copy, copy); // echoed twice: plainly, then handed back
        ws.send(m);
        await ws.send(m, { transfer: true });
      } else if (k < 0.96) {
        elsewhere.push(copy);
        kept.push({ m, copy });
        await other.send(m);
      } else {
        // Sent on another connection, then handed back here: the other send keeps its own
        // claim, so the memory is not reused before that copy is written too.
        elsewhere.push(copy);
        echoes.push(copy);
        other.send(m);
        await ws.send(m, { transfer: true });
      }
    };
    for (;;) {
      if (r.chance(0.2)) {
        const [x, y] = await Promise.all([ws.next(), ws.next()]);
        for (const res of [x, y]) if (!res.done) await handle(res.value);
        if (x.done || y.done) break;
      } else {
        const res = await ws.next();
        if (res.done) break;
        await handle(res.value);
      }
    }
    await ws.closed;
    await other.close();
    for (const { m, copy } of kept) {
      assert.deepEqual(m.data, copy, `seed ${seed}: a kept message was overwritten`);
    }
    const out = parseWritten(concat(a.written.slice(1))); // (the first write is the "101")
    const data = out.filter((f) => f.opcode === 1 || f.opcode === 2).map((f) => f.payload);
    const pongs = out.filter((f) => f.opcode === 10).map((f) => f.payload);
    if (!a.writeFailed()) {
      assert.equal(data.length, sent.length, `seed ${seed}: echo count`);
      assert.ok(pongs.length <= sc.pings.length, `seed ${seed}: pong count`);
    }
    data.forEach((d, i) => assert.deepEqual(d, sent[i], `seed ${seed}: echo ${i} differs`));
    pongs.forEach((p, i) => assert.deepEqual(p, sc.pings[i], `seed ${seed}: pong ${i} differs`));
    const bOut = parseWritten(concat(b.written.slice(1))).filter((f) => f.opcode <= 2);
    assert.equal(bOut.length, elsewhere.length, `seed ${seed}: sends on another connection`);
    bOut.forEach((f, i) =>
      assert.deepEqual(f.payload, elsewhere[i], `seed ${seed}: elsewhere ${i}`)
    );
    assert.equal(budget.held, 0, `seed ${seed}: input memory given back when the connection ends`);
  }
});

Deno.test(`buffer ownership: ${REUSE_SCHEDULES} schedules handing everything back reuse one read buffer`, async () => {
  for (let seed = 1; seed <= REUSE_SCHEDULES; seed++) {
    const r = prng(seed * 7919);
    // Whole small frames per read (each read ends on a frame boundary), writes done at once.
    const frames: Uint8Array[] = [];
    const count = r.int(2, 30);
    for (let i = 0; i < count; i++) {
      const op = r.chance(0.15) ? 9 : r.chance(0.5) ? 1 : 2;
      frames.push(
        clientFrame({
          opcode: op,
          payload: r.bytes(r.int(0, 100), op === 1),
          maskKey: r.bytes(4, false),
        }),
      );
    }
    let i = 0;
    const offered: Uint8Array[] = [];
    const socket: Socket = {
      read(p) {
        offered.push(p);
        if (i >= frames.length) return Promise.resolve(null);
        const batch = concat(frames.slice(i, i += r.int(1, 3)));
        p.set(batch);
        return Promise.resolve(batch.length);
      },
      write: (p) => Promise.resolve(p.length),
      closeWrite: () => Promise.resolve(),
      close() {},
      remote: { hostname: "127.0.0.1", port: 1 },
    };
    const ws = new WebSocketConnection(socket, { options: OPTIONS });
    assert.ok(await ws.open(new Uint8Array(1)));
    if (r.chance(0.5)) await ws.send("greeting");
    for await (const m of ws) await ws.send(m, { transfer: true });
    for (const p of offered.slice(1)) {
      assert.equal(p.buffer, offered[0].buffer, `seed ${seed}: a fresh read buffer`);
      assert.equal(p.byteOffset, 0, `seed ${seed}: a read not at the buffer's start`);
    }
  }
});
