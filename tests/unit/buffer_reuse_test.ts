// Input memory reuse: InputMemory's slabs, claims and message buffers, and the connection's rule
// that a message's bytes are reused only after the application handed it back (send with
// transfer) and nothing queued refers to them.

import assert from "node:assert/strict";
import { WebSocketConnection } from "../../src/connection/connection.ts";
import { InputMemory, MemoryBudget } from "../../src/connection/input_memory.ts";
import type { Socket } from "../../src/connection/socket.ts";
import type { Message } from "../../src/protocol/session.ts";
import { clientFrame } from "../support/raw_client.ts";
import { concat } from "../support/bytes.ts";

const REMOTE = { hostname: "127.0.0.1", port: 1 };

/** A socket whose reads come from `chunks` in order and whose writes are recorded. */
function fakeConn(chunks: Uint8Array[]) {
  const reads: Uint8Array[] = []; // the buffers the connection offered, in order
  const written: Uint8Array[] = [];
  let i = 0;
  const conn: Socket = {
    read(p) {
      reads.push(p);
      if (i >= chunks.length) return Promise.resolve(null);
      const c = chunks[i++];
      assert.ok(c.length <= p.length, "test chunk fits the offered buffer");
      p.set(c);
      return Promise.resolve(c.length);
    },
    write(p) {
      written.push(p.slice());
      return Promise.resolve(p.length);
    },
    closeWrite: () => Promise.resolve(),
    close() {},
    remote: REMOTE,
  };
  return { conn, reads, written };
}

const OPTIONS = { maxMessage: 1 << 24, closeTimeout: 1000, maxBackpressure: 1 << 20 };

async function openConnection(conn: Socket): Promise<WebSocketConnection> {
  const ws = new WebSocketConnection(conn, { options: OPTIONS });
  assert.ok(await ws.open(new Uint8Array(1)));
  return ws;
}

const text = (s: string) => clientFrame({ opcode: 0x1, payload: s });

Deno.test("input memory: an unclaimed slab is rewound; a claimed one is not until released", () => {
  const m = new InputMemory();
  const first = m.readBuffer();
  m.commit(10);
  const second = m.readBuffer();
  assert.equal(second.buffer, first.buffer);
  assert.equal(second.byteOffset, 0, "nothing claimed: read from the start again");
  const chunk = m.commit(10);
  const hold = m.claim(chunk)!;
  assert.ok(hold !== null);
  const third = m.readBuffer();
  assert.equal(third.byteOffset, 10, "claimed: the next read goes after the claimed bytes");
  m.commit(5);
  hold.release();
  assert.equal(m.readBuffer().byteOffset, 0, "released: rewound");
  assert.equal(m.claim(new Uint8Array(4)), null, "not this connection's input");
});

Deno.test("input memory: a kept block is never rewound, and is forgotten once replaced", () => {
  const budget = new MemoryBudget();
  const m = new InputMemory(budget);
  m.readBuffer();
  const chunk = m.commit(100);
  m.keep(m.claim(chunk)!);
  const next = m.readBuffer();
  assert.equal(next.byteOffset, 100, "the kept bytes are never read over");
  // Fill the slab so that a fresh one is needed: the kept one stops counting.
  m.commit(next.length);
  const fresh = m.readBuffer();
  assert.notEqual(fresh.buffer, chunk.buffer);
  assert.equal(budget.held, fresh.buffer.byteLength, "only the new slab is counted");
  m.dispose();
  assert.equal(budget.held, 0, "everything goes back when the connection ends");
});

Deno.test("input memory: a released message buffer takes the next message; the budget counts it", () => {
  const budget = new MemoryBudget(64 * 1024);
  const m = new InputMemory(budget);
  const a = m.allocateMessage(2000, 1 << 20)!;
  a.bytes.fill(1);
  a.release();
  const b = m.allocateMessage(1500, 1 << 20)!;
  assert.equal(b, a, "the free buffer is reused");
  const c = m.allocateMessage(1000, 1 << 20)!;
  assert.notEqual(c, b, "a claimed buffer is not");
  assert.equal(m.allocateMessage(62 * 1024, 1 << 20) === null, true, "over the budget: refused");
  b.release();
  c.release();
  m.trim();
  m.dispose();
  assert.equal(budget.held, 0);
  assert.throws(() => c.release(), /released more often than claimed/);
});

Deno.test("connection: messages the application keeps stay intact across later reads", async () => {
  const words = Array.from({ length: 50 }, (_, i) => `message number ${i}`);
  const { conn } = fakeConn(words.map(text));
  const ws = await openConnection(conn);
  const kept: Message[] = [];
  for await (const m of ws) {
    kept.push(m);
    await ws.send(m); // sent, but not handed back: its bytes must stay as they are
  }
  assert.deepEqual(kept.map((m) => m.text), words);
});

Deno.test("connection: handed-back messages let reads reuse the same memory", async () => {
  const words = Array.from({ length: 20 }, (_, i) => `echo ${i}`);
  const { conn, reads, written } = fakeConn(words.map(text));
  const ws = await openConnection(conn);
  const seen: string[] = [];
  for await (const m of ws) {
    seen.push(m.text);
    await ws.send(m, { transfer: true });
  }
  assert.deepEqual(seen, words);
  // Every read after the first went into the start of the first read's buffer.
  for (const r of reads.slice(1)) {
    assert.equal(r.buffer, reads[0].buffer);
    assert.equal(r.byteOffset, reads[0].byteOffset);
  }
  const echoed = written.slice(1).map((w) => new TextDecoder().decode(w.subarray(2)));
  assert.deepEqual(echoed, words, "every echo carries its own bytes");
});

Deno.test("connection: a handed-back message is not written over while a later message is held", async () => {
  const { conn, reads } = fakeConn([text("first"), text("second"), text("third")]);
  const ws = await openConnection(conn);
  const held: Message[] = [];
  let n = 0;
  for await (const m of ws) {
    if (n++ === 1) {
      held.push(m); // the second is kept
      await ws.send(m);
    } else {
      await ws.send(m, { transfer: true });
    }
  }
  assert.equal(held[0].text, "second");
  assert.ok(
    reads[2].byteOffset > reads[1].byteOffset,
    "the read after a held message goes after it",
  );
});

Deno.test("connection: a large handed-back message's buffer is reused only after it is written", async () => {
  // Two 200 KiB binary messages, each in two pieces, so that each is reassembled.
  const size = 200 * 1024;
  const payload = (fill: number) => new Uint8Array(size).fill(fill);
  const frames = [1, 2].map((fill) => clientFrame({ opcode: 0x2, payload: payload(fill) }));
  const chunks = frames.flatMap((f) => [f.subarray(0, 1000), f.subarray(1000)]);
  let release: (() => void) | null = null;
  const writes: Uint8Array[] = [];
  let i = 0;
  const conn: Socket = {
    read(p) {
      if (i >= chunks.length) return Promise.resolve(null);
      const c = chunks[i++];
      const n = Math.min(c.length, p.length);
      p.set(c.subarray(0, n));
      if (n < c.length) chunks.splice(i, 0, c.subarray(n)); // the rest comes in the next read
      return Promise.resolve(n);
    },
    write(p) {
      // The first large payload's write stays pending until the second message has arrived.
      if (p.length >= size && release === null) {
        return new Promise((resolve) => {
          release = () => {
            writes.push(p.slice());
            resolve(p.length);
          };
        });
      }
      writes.push(p.slice());
      return Promise.resolve(p.length);
    },
    closeWrite: () => Promise.resolve(),
    close() {},
    remote: REMOTE,
  };
  const ws = await openConnection(conn);
  const got: Message[] = [];
  for await (const m of ws) {
    got.push(m);
    ws.send(m, { transfer: true });
    if (got.length === 2) (release as (() => void) | null)?.();
  }
  assert.equal(got.length, 2);
  assert.notEqual(got[1].data.buffer, got[0].data.buffer, "the unwritten buffer was not reused");
  // Each echo goes out as one write: its 10-byte header was put in the room before the payload.
  const bodies = writes.filter((w) => w.length >= size);
  assert.deepEqual(bodies.map((w) => w.length), [size + 10, size + 10]);
  assert.deepEqual([...bodies[0].subarray(0, 2)], [0x82, 127], "FIN, binary, 64-bit length");
  assert.ok(bodies[0].subarray(10).every((b) => b === 1), "the first echo is all 1s");
  assert.ok(bodies[1].subarray(10).every((b) => b === 2), "the second echo is all 2s");
});

Deno.test("connection: an echo sent as a view of the read buffer is not read over while pending", async () => {
  // A 70 KiB message read in one piece goes out uncopied, as a view of the read buffer, so later
  // reads must not reuse that memory until it is written. (A first 2000-byte message moves the
  // reader up to large buffers.)
  const size = 70 * 1024;
  const frames = [
    clientFrame({ opcode: 0x2, payload: new Uint8Array(2000) }),
    ...[1, 2, 3].map((fill) =>
      clientFrame({ opcode: 0x2, payload: new Uint8Array(size).fill(fill) })
    ),
  ];
  const input = concat(frames);
  const ends = frames.map((_, k) => frames.slice(0, k + 1).reduce((n, f) => n + f.length, 0));
  let pos = 0;
  let released = false;
  const pending: (() => void)[] = [];
  const writes: Uint8Array[] = [];
  const conn: Socket = {
    read(p) {
      if (pos >= input.length) {
        // Only now let the writes finish: every read came while the first was pending.
        released = true;
        for (const release of pending) release();
        return Promise.resolve(null);
      }
      // No read goes past the end of a frame: one message per read, as in ping-pong.
      const end = ends.find((e) => e > pos)!;
      const n = Math.min(p.length, end - pos);
      p.set(input.subarray(pos, pos + n));
      pos += n;
      return Promise.resolve(n);
    },
    write(p) {
      const finish = () => {
        writes.push(p.slice());
        return p.length;
      };
      if (p.length < size || released) return Promise.resolve(finish());
      return new Promise((resolve) => pending.push(() => resolve(finish())));
    },
    closeWrite: () => Promise.resolve(),
    close() {},
    remote: REMOTE,
  };
  const ws = await openConnection(conn);
  for await (const m of ws) ws.send(m, { transfer: true });
  const echoes = writes.filter((w) => w.length >= size);
  assert.equal(echoes.length, 3);
  echoes.forEach((w, k) => {
    assert.ok(w.subarray(w.length - size).every((b) => b === k + 1), `echo ${k + 1} is intact`);
  });
});

Deno.test("connection: a kept message that came with the HTTP head survives the next read", async () => {
  const head = new Uint8Array(200).fill(0x41); // stands for the request head
  const first = clientFrame({ opcode: 0x1, payload: "came with the head" });
  const { conn } = fakeConn([concat([head, first]), text("x".repeat(600))]);
  const memory = new InputMemory();
  const n = (await conn.read(memory.readBuffer()))!; // as the server reads the head
  const rest = memory.commit(n).subarray(head.length); // the parser's rest is a view like this
  const ws = new WebSocketConnection(conn, { options: OPTIONS, memory, initial: rest });
  assert.ok(await ws.open(new Uint8Array(1)));
  const kept: Message[] = [];
  for await (const m of ws) {
    kept.push(m);
    await ws.send(m); // not handed back
  }
  assert.deepEqual(kept.map((m) => m.text), ["came with the head", "x".repeat(600)]);
});

Deno.test("connection: a reassembly buffer is reused only after its last queued echo is written", async () => {
  // The first message is echoed twice, the second time handed back; the second message must
  // not be reassembled into its buffer while that second echo still waits to be written.
  const size = 100 * 1024;
  const fragmented = (fill: number, n: number) =>
    concat([
      clientFrame({ opcode: 0x2, fin: false, payload: new Uint8Array(n).fill(fill) }),
      clientFrame({ opcode: 0x0, fin: true, payload: new Uint8Array(n).fill(fill) }),
    ]);
  const parts = [fragmented(0x11, size), fragmented(0xee, size)];
  let part = 0, pos = 0;
  const secondArrived = Promise.withResolvers<void>();
  let largeWrites = 0;
  const writes: Uint8Array[] = [];
  const conn: Socket = {
    read(p) {
      if (pos >= parts[part].length) {
        if (++part >= parts.length) return Promise.resolve(null);
        pos = 0;
      }
      const src = parts[part];
      const n = Math.min(p.length, src.length - pos);
      p.set(src.subarray(pos, pos + n));
      pos += n;
      return Promise.resolve(n);
    },
    async write(p) {
      // The second echo of the first message completes only once the second has arrived.
      if (p.length >= 2 * size && ++largeWrites === 2) await secondArrived.promise;
      writes.push(p.slice());
      return p.length;
    },
    closeWrite: () => Promise.resolve(),
    close() {},
    remote: REMOTE,
  };
  const ws = await openConnection(conn);
  const got: Message[] = [];
  for await (const m of ws) {
    got.push(m);
    if (got.length === 1) {
      ws.send(m);
      ws.send(m, { transfer: true });
    } else {
      secondArrived.resolve();
      ws.send(m, { transfer: true });
    }
  }
  const echoes = writes.filter((w) => w.length >= 2 * size).map((w) =>
    w.subarray(w.length - 2 * size)
  );
  assert.equal(echoes.length, 3);
  assert.ok(
    echoes[0].every((b) => b === 0x11) && echoes[1].every((b) => b === 0x11),
    "first, twice",
  );
  assert.ok(echoes[2].every((b) => b === 0xee), "then the second");
});

Deno.test("connection: a greeting sent before the first read does not stop reads reusing memory", async () => {
  const { conn, reads } = fakeConn(Array.from({ length: 5 }, (_, i) => text(`m${i}`)));
  const ws = await openConnection(conn);
  await ws.send("hello"); // the encoder is made by this send, before any input
  for await (const m of ws) await ws.send(m, { transfer: true });
  for (const r of reads.slice(1)) assert.equal(r.byteOffset, reads[0].byteOffset);
});

Deno.test("connection: with overlapping next() calls, a kept message is still held", async () => {
  // Two messages in one read, asked for by two next() calls at once; the first is kept and the
  // second handed back, then a third read must not go over the first.
  const { conn } = fakeConn([concat([text("A".repeat(100)), text("B".repeat(100))]), text("C")]);
  const ws = await openConnection(conn);
  const [r1, r2] = await Promise.all([ws.next(), ws.next()]);
  const kept = r1.value as Message;
  ws.send(r2.value as Message, { transfer: true });
  assert.equal(((await ws.next()).value as Message).text, "C");
  assert.equal(kept.text, "A".repeat(100));
  await ws.close();
});
