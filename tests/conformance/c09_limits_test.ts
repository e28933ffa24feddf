// Autobahn category 9: limits and volume. 16 MiB messages (the default limit) come back byte
// for byte, whole or in 64 KiB fragments; 1 MiB in 4096-byte frames; a message over the limit
// is refused with 1009 as soon as a frame header shows it, before its payload is sent; a
// thousand small messages written at once come back in order.

import {
  binaryOfLength,
  cat,
  clientFrame,
  closeNormally,
  expectClose,
  expectCloseFrame,
  expectEof,
  expectMessage,
  FAIL_FAST_WATCHDOG_MS,
  fragments,
  frame,
  OP,
  type RawClient,
  textOfLength,
  utf8,
  wsCase,
} from "./_helpers.ts";

const MiB = 1024 * 1024;
const big = { watchdogMs: 30_000 };

/** Sends `bytes` while the echo is read (the server may stop reading while its output waits). */
async function sendAndExpect(
  c: RawClient,
  bytes: Uint8Array,
  opcode: number,
  payload: Uint8Array,
): Promise<void> {
  const echo = expectMessage(c, opcode, payload);
  await Promise.all([c.send(bytes), echo]);
}

wsCase("9.1.1 a 16 MiB text message in one frame is echoed byte for byte", async (c) => {
  const p = textOfLength(16 * MiB);
  await sendAndExpect(c, frame(OP.TEXT, p), OP.TEXT, p);
  await closeNormally(c);
}, big);

wsCase("9.2.1 a 16 MiB binary message in one frame is echoed byte for byte", async (c) => {
  const p = binaryOfLength(16 * MiB, 91);
  await sendAndExpect(c, frame(OP.BINARY, p), OP.BINARY, p);
  await closeNormally(c);
}, big);

wsCase("9.3.1 a 16 MiB text message in 64 KiB frames is echoed byte for byte", async (c) => {
  const p = textOfLength(16 * MiB); // 64 KiB cuts fall inside characters
  await sendAndExpect(c, cat(...fragments(OP.TEXT, p, 64 * 1024)), OP.TEXT, p);
  await closeNormally(c);
}, big);

wsCase("9.4.1 a 16 MiB binary message in 64 KiB frames is echoed byte for byte", async (c) => {
  const p = binaryOfLength(16 * MiB, 94);
  await sendAndExpect(c, cat(...fragments(OP.BINARY, p, 64 * 1024)), OP.BINARY, p);
  await closeNormally(c);
}, big);

wsCase("9.5.1 a 1 MiB text message in 4096-byte frames is echoed", async (c) => {
  const p = textOfLength(MiB);
  await sendAndExpect(c, cat(...fragments(OP.TEXT, p, 4096)), OP.TEXT, p);
  await closeNormally(c);
}, big);

wsCase("9.6.1 a 1 MiB binary message in 4096-byte frames is echoed", async (c) => {
  const p = binaryOfLength(MiB, 96);
  await sendAndExpect(c, cat(...fragments(OP.BINARY, p, 4096)), OP.BINARY, p);
  await closeNormally(c);
}, big);

// ---- the configured limit ------------------------------------------------------------------

const limited = { server: { maxMessage: MiB }, watchdogMs: FAIL_FAST_WATCHDOG_MS };

/** A frame header (with masking key) announcing `length` bytes, and no payload. */
function headerOnly(opcode: number, length: number, fin = true): Uint8Array {
  const f = clientFrame({ opcode, fin, payload: new Uint8Array(0), lengthBits: 64 });
  new DataView(f.buffer).setBigUint64(2, BigInt(length));
  return f;
}

wsCase("9.7.1 a binary message of exactly the limit (1 MiB) is echoed", async (c) => {
  const p = binaryOfLength(MiB, 71);
  await sendAndExpect(c, frame(OP.BINARY, p), OP.BINARY, p);
  await closeNormally(c);
}, { server: { maxMessage: MiB } });

wsCase(
  "9.7.2 a binary frame header announcing limit + 1 gets 1009 before the payload",
  async (c) => {
    await c.send(headerOnly(OP.BINARY, MiB + 1));
    await expectClose(c, 1009);
  },
  limited,
);

wsCase("9.7.3 a text frame header announcing 16 MiB gets 1009 before the payload", async (c) => {
  await c.send(headerOnly(OP.TEXT, 16 * MiB));
  await expectClose(c, 1009);
}, limited);

wsCase(
  "9.7.4 a valid message, then an oversized header in the same write: echo, then 1009",
  async (c) => {
    await c.send(cat(frame(OP.TEXT, "small"), headerOnly(OP.BINARY, 2 * MiB)));
    await expectMessage(c, OP.TEXT, "small");
    await expectClose(c, 1009);
  },
  limited,
);

wsCase(
  "9.7.5 a fragmented message: the header of the fragment that crosses the limit gets 1009 " +
    "before its payload",
  async (c) => {
    // 768 KiB in a first fragment (within the limit), then a continuation announcing 512 KiB:
    // the total, 1.25 MiB, is over the limit, and the header alone says so.
    await c.send(frame(OP.BINARY, binaryOfLength(768 * 1024, 75), { fin: false }));
    await c.send(headerOnly(OP.CONT, 512 * 1024));
    await expectCloseFrame(c, 1009);
    await c.send(frame(OP.CLOSE, new Uint8Array([0x03, 0xf1]))).catch(() => {});
    await expectEof(c);
  },
  limited,
);

wsCase(
  "9.7.6 a fragmented text crossing the limit in its third fragment is closed with 1009",
  async (c) => {
    const part = textOfLength(400 * 1024);
    await c.send(cat(
      frame(OP.TEXT, part, { fin: false }),
      frame(OP.CONT, part, { fin: false }),
      frame(OP.CONT, part),
    ));
    await expectClose(c, 1009);
  },
  limited,
);

// ---- many small messages -------------------------------------------------------------------

wsCase(
  "9.7.7 a binary frame header declaring 2 MiB, alone, gets 1009 before the payload",
  async (c) => {
    await c.send(headerOnly(OP.BINARY, 2 * MiB));
    await expectClose(c, 1009);
  },
  limited,
);

wsCase("9.8.1 1000 small text messages in one write come back in order", async (c) => {
  const msgs = Array.from({ length: 1000 }, (_, i) => utf8(`message ${i} κόσμε`));
  await c.send(cat(...msgs.map((m) => frame(OP.TEXT, m))));
  for (const m of msgs) await expectMessage(c, OP.TEXT, m);
  await closeNormally(c);
});

wsCase(
  "9.8.2 1000 small binary messages of 0..999 bytes in one write come back in order",
  async (c) => {
    const msgs = Array.from({ length: 1000 }, (_, i) => binaryOfLength(i, i));
    const echoes = (async () => {
      for (const m of msgs) await expectMessage(c, OP.BINARY, m);
    })();
    await Promise.all([c.send(cat(...msgs.map((m) => frame(OP.BINARY, m)))), echoes]);
    await closeNormally(c);
  },
);
