// Large messages over raw TCP: fragmented text in odd-sized writes and large frames back to
// back, which exercise the reassembly buffer and the server's reads straight into it.
//
// Kept apart from client_test.ts: a server fault here surfaces as an uncaught error in the test
// process, which would cancel every other test of the same file.

import assert from "node:assert/strict";
import { clientFrame, closePayload, RawClient } from "../support/raw_client.ts";
import { withServer } from "../support/server.ts";
import { concat } from "../support/bytes.ts";

const SHORT = { handshakeTimeout: 2000, closeTimeout: 500, pingInterval: 0 };

function patterned(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 251 + (i >>> 10)) & 0xff;
  return b;
}

async function closeCleanly(c: RawClient): Promise<void> {
  await c.sendFrame({ opcode: 8, payload: closePayload(1000) });
  assert.equal((await c.frame())?.opcode, 8);
  assert.equal(await c.frame(), null);
}

Deno.test("large: binary frames back to back in one write are echoed in order", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.open(port);
    try {
      const sizes = [200_000, 17, 70_000, 0, 16_384, 16_385];
      const payloads = sizes.map((n, k) => patterned(n).map((b) => b ^ k));
      const wire = concat(payloads.map((p) => clientFrame({ opcode: 2, payload: p })));
      const writes = c.send(wire);
      for (const p of payloads) {
        const echo = await c.frame();
        assert.equal(echo?.opcode, 2);
        assert.equal(echo!.payload.length, p.length);
        assert.ok(echo!.payload.every((b, i) => b === p[i]), `${p.length} bytes intact`);
      }
      await writes;
      await closeCleanly(c);
    } finally {
      c.close();
    }
  });
});

Deno.test("large: a fragment larger than the reassembly buffer's spare room, read in pieces", async () => {
  // A 1-byte first fragment (reassembly buffer: 256 bytes), then a 20 000-byte continuation
  // whose header and first 100 bytes arrive in one read and the rest later. The rest of that
  // frame no longer fits the buffer.
  await withServer(SHORT, async (port) => {
    const c = await RawClient.open(port);
    try {
      c.conn.setNoDelay(true);
      const rest = patterned(20_000);
      await c.sendFrame({ opcode: 2, payload: new Uint8Array([0xab]), fin: false });
      const second = clientFrame({ opcode: 0, payload: rest, fin: true });
      const headerLength = 4 + 4;
      await c.send(second.subarray(0, headerLength + 100));
      // Give the server a chance to read that piece on its own (not a timing assertion: the
      // echo must be right however the bytes are grouped).
      await new Promise((r) => setTimeout(r, 50));
      await c.send(second.subarray(headerLength + 100));
      const echo = await c.frame();
      assert.equal(echo?.opcode, 2);
      assert.equal(echo!.payload.length, 20_001);
      assert.equal(echo!.payload[0], 0xab);
      assert.ok(echo!.payload.subarray(1).every((b, i) => b === rest[i]), "payload intact");
      await closeCleanly(c);
    } finally {
      c.close();
    }
  });
});

Deno.test("large: a fragmented text message in odd-sized writes is echoed whole", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.open(port);
    try {
      const text = "ascii and ü and € and 𝄞 ".repeat(12_000); // ~350 KB
      const bytes = new TextEncoder().encode(text);
      // Fragment boundaries inside multi-byte characters, fragments of very different sizes.
      const cuts = [1, 100_001, 100_002, 250_003, bytes.length];
      const frames: Uint8Array[] = [];
      let start = 0;
      cuts.forEach((end, i) => {
        frames.push(clientFrame({
          opcode: i === 0 ? 1 : 0,
          payload: bytes.subarray(start, end),
          fin: end === bytes.length,
        }));
        start = end;
      });
      const wire = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
      let at = 0;
      for (const f of frames) {
        wire.set(f, at);
        at += f.length;
      }
      const writes = (async () => {
        for (let i = 0; i < wire.length; i += 7777) await c.send(wire.subarray(i, i + 7777));
      })();
      const echo = await c.frame();
      await writes;
      assert.equal(echo?.opcode, 1);
      assert.equal(echo?.fin, true);
      assert.equal(echo!.payload.length, bytes.length);
      assert.ok(new TextDecoder().decode(echo!.payload) === text, "the text comes back whole");
      await closeCleanly(c);
    } finally {
      c.close();
    }
  });
});
