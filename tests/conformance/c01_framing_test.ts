// Autobahn category 1: framing. Text and binary messages of every length class (7-bit, 16-bit
// and 64-bit length encodings and their edges) come back byte for byte, also when the client's
// bytes arrive in small chunks.

import assert from "node:assert/strict";
import { RawClient, upgradeRequest } from "../support/raw_client.ts";
import { withServer } from "../support/server.ts";
import {
  binaryOfLength,
  cat,
  closeNormally,
  expectMessage,
  frame,
  OP,
  sendInChunks,
  textOfLength,
  wsCase,
} from "./_helpers.ts";

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

for (const [group, opcode, kind] of [[1, OP.TEXT, "text"], [2, OP.BINARY, "binary"]] as const) {
  for (const chunked of [false, true]) {
    LENGTHS.forEach((len, i) => {
      const payload = opcode === OP.TEXT ? textOfLength(len) : binaryOfLength(len, len);
      const chunk = len <= 128 ? 3 : 997;
      const n = i + 1 + (chunked ? LENGTHS.length : 0);
      const how = chunked ? ` sent in ${chunk}-byte chunks` : "";
      wsCase(`1.${group}.${n} ${kind} message of ${len} bytes${how} is echoed`, async (c) => {
        if (chunked) await sendInChunks(c, frame(opcode, payload), chunk);
        else await c.send(frame(opcode, payload));
        await expectMessage(c, opcode, payload);
        await closeNormally(c);
      });
    });
  }
}

wsCase("1.3.1 every length class in one write is echoed in order", async (c) => {
  const payloads = LENGTHS.map((n, i) => i % 2 ? textOfLength(n) : binaryOfLength(n, i));
  await c.send(
    new Uint8Array(
      payloads.flatMap((p, i) => [...frame(i % 2 ? OP.TEXT : OP.BINARY, p)]),
    ),
  );
  for (let i = 0; i < payloads.length; i++) {
    await expectMessage(c, i % 2 ? OP.TEXT : OP.BINARY, payloads[i]);
  }
  await closeNormally(c);
});

wsCase("1.3.2 a 5-byte text sent with a 16-bit and a 64-bit length field is echoed", async (c) => {
  // RFC 6455 asks senders for the minimal encoding; a receiver decoding the longer forms must
  // still read the right length (the frames that follow prove it).
  await c.send(frame(OP.TEXT, "short", { lengthBits: 16 }));
  await c.send(frame(OP.TEXT, "again", { lengthBits: 64 }));
  await expectMessage(c, OP.TEXT, "short");
  await expectMessage(c, OP.TEXT, "again");
  await closeNormally(c);
});

Deno.test("1.3.3 frames written together with the upgrade request are echoed", async () => {
  await withServer({ closeTimeout: 1000 }, async (port) => {
    const c = await RawClient.connect(port);
    try {
      await c.send(cat(
        upgradeRequest("/"),
        frame(OP.TEXT, "sent with the handshake"),
        frame(OP.PING, "ping too"),
      ));
      const head = await c.reader.head();
      assert.ok(head?.startsWith("HTTP/1.1 101 "), `expected 101, got ${head}`);
      await expectMessage(c, OP.TEXT, "sent with the handshake");
      await expectMessage(c, OP.PONG, "ping too");
      await closeNormally(c);
    } finally {
      c.close();
    }
  });
});
