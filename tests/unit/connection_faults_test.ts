// Faults a review of the ownership split found, each pinned over a fake socket: a keepalive
// sweep during a pending read, a read that fails while closing, backpressure counted late.

import assert from "node:assert/strict";
import { WebSocketConnection } from "../../src/connection/connection.ts";
import { InputMemory, MemoryBudget } from "../../src/connection/input_memory.ts";
import { PeerGone, type Socket } from "../../src/connection/socket.ts";
import { clientFrame } from "../support/raw_client.ts";

const REMOTE = { hostname: "127.0.0.1", port: 1 };
const key = new Uint8Array([1, 2, 3, 4]);

Deno.test("connection: a keepalive sweep while a read is pending leaves that read's memory alone", async () => {
  const big = clientFrame({ opcode: 2, payload: new Uint8Array(1024).fill(7), maskKey: key });
  const hello = clientFrame({ opcode: 1, payload: "hello", maskKey: key });
  let at = 0;
  let pending: { into: Uint8Array; resolve: (n: number | null) => void } | null = null;
  const readPending = Promise.withResolvers<void>();
  const socket: Socket = {
    read(into) {
      if (at < big.length) { // fills each read: the connection moves up to large slabs
        const n = Math.min(into.length, big.length - at);
        into.set(big.subarray(at, at + n));
        at += n;
        return Promise.resolve(n);
      }
      return new Promise((resolve) => {
        pending = { into, resolve };
        readPending.resolve();
      });
    },
    write: (p) => Promise.resolve(p.length),
    closeWrite: () => Promise.resolve(),
    close: () => pending?.resolve(null),
    remote: REMOTE,
  };
  const options = { maxMessage: 1 << 20, closeTimeout: 1000, maxBackpressure: 1 << 20 };
  const ws = new WebSocketConnection(socket, { options });
  assert.ok(await ws.open(new Uint8Array(1)));
  const got: string[] = [];
  const app = (async () => {
    for await (const m of ws) {
      got.push(`${m.type}:${m.data.length}`);
      await ws.send(m, { transfer: true });
    }
  })();
  await readPending.promise;
  const timing = { pingInterval: 1e9, pingTimeout: 1e9 };
  ws.keepalive(1, timing); // "active"
  ws.keepalive(2, timing); // "quiet": spare memory is let go
  const p = pending!;
  p.into.set(hello); // the peer's next frame lands where the pending read was pointed
  p.resolve(hello.length);
  while (got.length < 2 && ws.state === "OPEN") await new Promise((r) => setTimeout(r, 1));
  assert.deepEqual(got, ["binary:1024", "text:5"]);
  await ws.close();
  await app;
});

Deno.test("connection: a read failing during the closing handshake still ends the connection", async () => {
  const reported: unknown[] = [];
  const onError = (e: ErrorEvent) => {
    e.preventDefault(); // as logInsteadOfCrashing does: logged, not fatal
    reported.push(e.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    const msg = clientFrame({ opcode: 1, payload: "hi", maskKey: key });
    let reads = 0;
    const socket: Socket = {
      read(into) {
        if (reads++ > 0) return Promise.reject(new Error("an error no socket mapping knows"));
        into.set(msg);
        return Promise.resolve(msg.length);
      },
      write: (p) => Promise.resolve(p.length),
      closeWrite: () => Promise.resolve(),
      close() {},
      remote: REMOTE,
    };
    const budget = new MemoryBudget();
    const ws = new WebSocketConnection(socket, {
      options: { maxMessage: 1 << 20, closeTimeout: 1000, maxBackpressure: 1 << 20 },
      memory: new InputMemory(budget),
    });
    assert.ok(await ws.open(new Uint8Array(1)));
    assert.equal((await ws.next()).done, false);
    const info = await ws.close(1000);
    assert.equal(info.clean, false);
    assert.equal(ws.state, "CLOSED");
    assert.equal(budget.held, 0, "its memory was given back");
    assert.equal(reported.length, 1, "the unexpected error was reported once");
  } finally {
    globalThis.removeEventListener("error", onError);
  }
});

Deno.test("connection: a send that fills the write queue is backpressured at once", async () => {
  let writes = 0;
  const stalled = Promise.withResolvers<number>();
  const silent = Promise.withResolvers<number | null>(); // the peer sends nothing
  const socket: Socket = {
    read: () => silent.promise,
    write: (p) => writes++ === 0 ? Promise.resolve(p.length) : stalled.promise,
    closeWrite: () => Promise.resolve(),
    close() {
      silent.resolve(null);
      stalled.reject(new PeerGone("closed"));
    },
    remote: REMOTE,
  };
  const ws = new WebSocketConnection(socket, {
    options: { maxMessage: 1 << 20, closeTimeout: 10, maxBackpressure: 1000 },
  });
  assert.ok(await ws.open(new Uint8Array(1)));
  let resolved = false;
  ws.send(new Uint8Array(100_000)).then(() => resolved = true);
  assert.equal(ws.backpressured, true, "counted as soon as it was sent");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(resolved, false, "the send waits for the queue to drain");
  await ws.close();
});
