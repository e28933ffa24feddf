// The process-wide memory budget over real sockets: a client whose message would take input
// memory past --max-memory is closed 1013 and the log says why, while connections under their
// share go on echoing, byte for byte.

import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config.ts";
import { Logger } from "../../src/log.ts";
import { startDeno } from "../../src/runtime/deno/start.ts";
import { RawClient } from "../support/raw_client.ts";

const MIB = 1024 * 1024;

/** The head of a masked binary frame declaring `length` bytes, mask key 0 (payload as is). */
function header(length: number, fin = true): Uint8Array {
  const h = new Uint8Array(14);
  h[0] = (fin ? 0x80 : 0) | 2;
  h[1] = 0x80 | 127;
  new DataView(h.buffer).setBigUint64(2, BigInt(length));
  return h;
}

function patterned(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed + (i >>> 10)) & 0xff;
  return b;
}

Deno.test("memory budget: the message that would cross --max-memory gets 1013; others echo on", async () => {
  const lines: string[] = [];
  const logger = new Logger("info", {}, (line) => lines.push(line));
  const config = { ...defaultConfig(), host: "127.0.0.1", port: 0, maxMemory: 4 * MIB };
  // (A's close reply is lost inside its unfinished 16 MiB frame: the close timeout ends it.)
  config.closeTimeout = 200;
  const server = await startDeno(config, { logger });
  const port = server.addr.port;
  const clients: RawClient[] = [];
  try {
    // C: half of a 2 MiB message, then a pause (its buffer holds what arrived: ~1 MiB).
    const c = await RawClient.open(port);
    clients.push(c);
    const big = patterned(2 * MIB, 1);
    await c.send(header(big.length));
    await c.send(big.subarray(0, MIB));
    // B: small messages echo.
    const b = await RawClient.open(port);
    clients.push(b);
    await b.sendFrame({ opcode: 2, payload: patterned(1000, 2) });
    assert.deepEqual((await b.frame())?.payload, patterned(1000, 2));
    // A: 4 MiB of a 16 MiB message: its buffer would cross the 4 MiB budget.
    const a = await RawClient.open(port);
    clients.push(a);
    await a.send(header(16 * MIB));
    const sending = a.send(new Uint8Array(4 * MIB)).catch(() => {}); // cut short by the close
    const closed = await a.closeCode();
    await sending;
    assert.equal(closed.code, 1013);
    assert.match(closed.reason, /budget/);
    // B still echoes; C finishes its message and gets it back whole.
    await b.sendFrame({ opcode: 1, payload: "still here" });
    assert.equal(new TextDecoder().decode((await b.frame())?.payload), "still here");
    await c.send(big.subarray(MIB));
    const echo = await c.frame();
    assert.ok(echo !== null);
    assert.equal(echo.payload.length, big.length);
    assert.ok(echo.payload.every((x, i) => x === big[i]), "C's echo is byte-exact");
  } finally {
    for (const c of clients) c.close();
    await server.close();
  }
  const events = lines.map((l) => JSON.parse(l));
  const why = events.find((e) => e.event === "memory_budget_exceeded");
  assert.ok(why !== undefined, "the log says why the connection was closed 1013");
  assert.equal(why.limit_bytes, 4 * MIB);
  assert.ok(why.held_bytes + why.wanted_bytes > 4 * MIB);
  const closedA = events.find((e) => e.event === "connection_closed" && e.close_code === 1013);
  assert.ok(closedA !== undefined);
  assert.equal(closedA.id, why.id);
});
