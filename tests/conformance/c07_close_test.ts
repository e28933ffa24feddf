// Autobahn category 7: the closing handshake. A client's close frame is answered with the same
// code and reason and the server then ends TCP; nothing is processed after a close frame;
// malformed close frames (1-byte payload, invalid codes, reason not UTF-8, over 125 bytes) fail
// the connection with 1002 or 1007.

import {
  assertBytes,
  cat,
  closeNormally,
  closePayload,
  expectClose,
  expectCloseFrame,
  expectEof,
  expectMessage,
  FAIL_FAST_WATCHDOG_MS,
  frame,
  hex,
  nextMessage,
  OP,
  type RawClient,
  utf8,
  wsCase,
} from "./_helpers.ts";
import assert from "node:assert/strict";

/** Reads the server's close reply and asserts it repeats `payload` byte for byte. */
async function expectCloseEcho(c: RawClient, payload: Uint8Array): Promise<void> {
  const m = await nextMessage(c);
  assert.ok(m !== null, "expected the close reply, but the server ended TCP");
  assert.equal(m.opcode, OP.CLOSE, `expected the close reply, got opcode ${m.opcode}`);
  assertBytes(m.payload, payload, "close payload");
}

wsCase("7.1.1 a message echoed, then a normal close: reply, then TCP ends", async (c) => {
  await c.send(frame(OP.TEXT, "Hello World!"));
  await expectMessage(c, OP.TEXT, "Hello World!");
  await closeNormally(c);
});

wsCase("7.1.2 two close frames in a row: one reply, then TCP ends", async (c) => {
  await c.send(cat(frame(OP.CLOSE, closePayload(1000)), frame(OP.CLOSE, closePayload(1001))));
  await expectCloseEcho(c, closePayload(1000));
  await expectEof(c);
});

wsCase("7.1.3 a ping after the close frame gets no pong", async (c) => {
  await c.send(cat(frame(OP.CLOSE, closePayload(1000)), frame(OP.PING, "too late")));
  await expectCloseEcho(c, closePayload(1000));
  await expectEof(c);
});

wsCase("7.1.4 a text after the close frame is not echoed", async (c) => {
  await c.send(cat(frame(OP.CLOSE, closePayload(1000)), frame(OP.TEXT, "too late")));
  await expectCloseEcho(c, closePayload(1000));
  await expectEof(c);
});

wsCase("7.1.5 a close inside a fragmented message: the message is dropped", async (c) => {
  await c.send(cat(
    frame(OP.TEXT, "fragment1", { fin: false }),
    frame(OP.CLOSE, closePayload(1000)),
    frame(OP.CONT, "fragment2"),
  ));
  await expectCloseEcho(c, closePayload(1000));
  await expectEof(c);
});

wsCase("7.1.6 a text after the close frame, in a later write, is not echoed", async (c) => {
  await c.send(frame(OP.CLOSE, closePayload(1000)));
  await expectCloseEcho(c, closePayload(1000));
  await c.send(frame(OP.TEXT, "too late")).catch(() => {}); // the socket may be gone already
  await expectEof(c);
});

wsCase("7.3.1 a close without payload is answered with an empty close", async (c) => {
  await c.send(frame(OP.CLOSE));
  await expectCloseEcho(c, new Uint8Array(0));
  await expectEof(c);
});

wsCase("7.3.2 a close with a 1-byte payload is closed with 1002", async (c) => {
  await c.send(frame(OP.CLOSE, hex("03")));
  await expectClose(c, 1002);
});

wsCase("7.3.3 close 1000 without reason is echoed", async (c) => {
  await c.send(frame(OP.CLOSE, closePayload(1000)));
  await expectCloseEcho(c, closePayload(1000));
  await expectEof(c);
});

wsCase("7.3.4 close 1000 with a short reason is echoed", async (c) => {
  const p = closePayload(1000, "Hello World!");
  await c.send(frame(OP.CLOSE, p));
  await expectCloseEcho(c, p);
  await expectEof(c);
});

wsCase("7.3.5 close 1000 with a 123-byte reason (125-byte payload) is echoed", async (c) => {
  const p = closePayload(1000, "*".repeat(113) + "κόσμε"); // 113 + 10 = 123 bytes
  assert.equal(p.length, 125);
  await c.send(frame(OP.CLOSE, p));
  await expectCloseEcho(c, p);
  await expectEof(c);
});

wsCase(
  "7.3.6 close 1000 with a 124-byte reason (126-byte payload) is closed with 1002",
  async (c) => {
    await c.send(frame(OP.CLOSE, closePayload(1000, "*".repeat(124))));
    await expectClose(c, 1002);
  },
);

wsCase("7.5.1 a close reason that is not valid UTF-8 is closed with 1007", async (c) => {
  await c.send(frame(OP.CLOSE, closePayload(1000, cat("κόσμε", hex("ed a0 80"), "edited"))));
  await expectClose(c, 1007);
});

wsCase("7.5.2 a close reason cut inside a character is closed with 1007", async (c) => {
  await c.send(frame(OP.CLOSE, closePayload(1000, cat("κόσμε", hex("e2 82")))));
  await expectClose(c, 1007);
});

const VALID_CODES = [
  1000,
  1001,
  1002,
  1003,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  3000,
  3999,
  4000,
  4999,
];
VALID_CODES.forEach((code, i) => {
  wsCase(`7.7.${i + 1} close code ${code} is echoed`, async (c) => {
    const p = closePayload(code, `code ${code}`);
    await c.send(frame(OP.CLOSE, p));
    await expectCloseEcho(c, p);
    await expectEof(c);
  });
});

const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
INVALID_CODES.forEach((code, i) => {
  wsCase(`7.9.${i + 1} close code ${code} is closed with 1002`, async (c) => {
    await c.send(frame(OP.CLOSE, closePayload(code)));
    await expectClose(c, 1002);
  });
});

// ---- 7.10: after a malformed close the handshake is over on both sides ------------------
// The client's (malformed) close frame already was its close, so once the server has sent its
// own it must end TCP at once, without waiting for a second close. The close timeout is made
// long: a server that waits for it would only end TCP through the watchdog, failing the case.

const noSecondClose = {
  server: { closeTimeout: 60_000 },
  watchdogMs: FAIL_FAST_WATCHDOG_MS,
};

const MALFORMED: [string, Uint8Array, number][] = [
  ...INVALID_CODES.map((code): [string, Uint8Array, number] => [
    `close code ${code}`,
    closePayload(code),
    1002,
  ]),
  ["a 1-byte close payload", hex("03"), 1002],
  ["a 124-byte reason", closePayload(1000, "*".repeat(124)), 1002],
  ["a reason that is not UTF-8", closePayload(1000, cat("κόσμε", hex("ed a0 80"))), 1007],
];
MALFORMED.forEach(([what, payload, code], i) => {
  wsCase(
    `7.10.${i + 1} ${what}: ${code}, then TCP ends without a second close from the client`,
    async (c) => {
      await c.send(frame(OP.CLOSE, payload));
      await expectCloseFrame(c, code);
      await expectEof(c);
    },
    noSecondClose,
  );
});

wsCase("7.13.1 a close sent in 1-byte chunks is echoed", async (c) => {
  const p = closePayload(1000, "bye");
  const bytes = frame(OP.CLOSE, p);
  for (let i = 0; i < bytes.length; i++) {
    await c.send(bytes.subarray(i, i + 1));
    await new Promise((r) => setTimeout(r, 1));
  }
  await expectCloseEcho(c, p);
  await expectEof(c);
});

wsCase("7.13.2 echoes before a close in the same write all come back first", async (c) => {
  await c.send(cat(
    frame(OP.TEXT, "one"),
    frame(OP.PING, "two"),
    frame(OP.BINARY, utf8("three")),
    frame(OP.CLOSE, closePayload(1001)),
  ));
  await expectMessage(c, OP.TEXT, "one");
  await expectMessage(c, OP.PONG, "two");
  await expectMessage(c, OP.BINARY, "three");
  await expectCloseEcho(c, closePayload(1001));
  await expectEof(c);
});

wsCase("7.13.3 the client's normal close works after many messages", async (c) => {
  for (let i = 0; i < 20; i++) {
    await c.send(frame(OP.TEXT, `message ${i}`));
    await expectMessage(c, OP.TEXT, `message ${i}`);
  }
  await closeNormally(c);
});
