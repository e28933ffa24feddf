// Autobahn category 6: UTF-8 handling. Valid text (every sequence length, the edges of the
// code space) is echoed byte for byte, whole or fragmented anywhere; invalid UTF-8 (overlong
// forms, surrogates, code points above U+10FFFF, stray or missing continuation bytes) fails
// the connection with 1007, and fails it fast: as soon as the invalid byte has arrived, before
// the client has sent the rest of the message or even of the frame.

import assert from "node:assert/strict";
import {
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
  hex,
  OP,
  type RawClient,
  sendInChunks,
  textOfLength,
  utf8,
  wsCase,
} from "./_helpers.ts";

// ---- 6.1-6.2: valid text ----------------------------------------------------------------

const VALID: [string, Uint8Array][] = [
  ["empty text", new Uint8Array(0)],
  ["κόσμε (2-byte characters)", utf8("κόσμε")],
  ["Hello-µ@ßöäüàá-UTF-8!!", utf8("Hello-µ@ßöäüàá-UTF-8!!")],
  ["3-byte characters (€, 日本語)", utf8("€ 日本語")],
  ["4-byte characters (😀, 𝄞, U+10000)", cat(utf8("😀𝄞"), hex("f0 90 80 80"))],
  ["U+0000 and U+007F", hex("00 7f")],
  ["U+0080 and U+07FF (first and last 2-byte)", hex("c2 80 df bf")],
  ["U+0800 (first 3-byte)", hex("e0 a0 80")],
  ["U+D7FF and U+E000 (around the surrogates)", hex("ed 9f bf ee 80 80")],
  ["U+FFFD", hex("ef bf bd")],
  ["U+FFFE and U+FFFF (noncharacters are valid UTF-8)", hex("ef bf be ef bf bf")],
  ["U+10FFFF (last code point)", hex("f4 8f bf bf")],
  ["U+FEFF (a BOM) at the start", cat(hex("ef bb bf"), utf8("text"))],
];

VALID.forEach(([what, bytes], i) => {
  wsCase(`6.1.${i + 1} valid ${what} is echoed`, async (c) => {
    await c.send(frame(OP.TEXT, bytes));
    await expectMessage(c, OP.TEXT, bytes);
    await closeNormally(c);
  });
});

wsCase("6.2.1 valid text in 1-byte fragments (characters cut apart) is echoed", async (c) => {
  const p = utf8("Hello-µ@ßöäüàá-UTF-8!! κόσμε 😀 €");
  await c.send(cat(...fragments(OP.TEXT, p, 1)));
  await expectMessage(c, OP.TEXT, p);
  await closeNormally(c);
});

wsCase("6.2.2 valid text sent in 1-byte chunks (one frame) is echoed", async (c) => {
  const p = utf8("κόσμε 😀 € U+10FFFF:\u{10ffff}");
  await sendInChunks(c, frame(OP.TEXT, p), 1);
  await expectMessage(c, OP.TEXT, p);
  await closeNormally(c);
});

wsCase("6.2.3 each 4-byte character cut at every position across 2 fragments", async (c) => {
  const p = utf8("😀\u{10ffff}");
  for (let cut = 1; cut < p.length; cut++) {
    await c.send(cat(
      frame(OP.TEXT, p.subarray(0, cut), { fin: false }),
      frame(OP.CONT, p.subarray(cut)),
    ));
    await expectMessage(c, OP.TEXT, p);
  }
  await closeNormally(c);
});

wsCase("6.2.4 valid 64 KiB multi-byte text in 1000-byte fragments is echoed", async (c) => {
  const p = textOfLength(65536);
  await c.send(cat(...fragments(OP.TEXT, p, 1000)));
  await expectMessage(c, OP.TEXT, p);
  await closeNormally(c);
});

// ---- 6.3: invalid text, whole messages ---------------------------------------------------

const INVALID: [string, string][] = [
  ["overlong '/' in 2 bytes (c0 af)", "c0 af"],
  ["overlong '/' in 3 bytes (e0 80 af)", "e0 80 af"],
  ["overlong '/' in 4 bytes (f0 80 80 af)", "f0 80 80 af"],
  ["overlong U+007F (c1 bf)", "c1 bf"],
  ["overlong U+07FF (e0 9f bf)", "e0 9f bf"],
  ["overlong U+FFFF (f0 8f bf bf)", "f0 8f bf bf"],
  ["overlong NUL (c0 80)", "c0 80"],
  ["surrogate U+D800 (ed a0 80)", "ed a0 80"],
  ["surrogate U+DB7F (ed ad bf)", "ed ad bf"],
  ["surrogate U+DC00 (ed b0 80)", "ed b0 80"],
  ["surrogate U+DFFF (ed bf bf)", "ed bf bf"],
  ["surrogate pair U+D800 U+DC00 (ed a0 80 ed b0 80)", "ed a0 80 ed b0 80"],
  ["U+110000, above U+10FFFF (f4 90 80 80)", "f4 90 80 80"],
  ["5-byte form (f8 88 80 80 80)", "f8 88 80 80 80"],
  ["6-byte form (fc 84 80 80 80 80)", "fc 84 80 80 80 80"],
  ["lead byte f5", "f5 80 80 80"],
  ["byte fe", "fe"],
  ["byte ff", "ff"],
  ["lone continuation byte 80", "80"],
  ["lone continuation byte bf", "bf"],
  ["two continuation bytes (80 bf)", "80 bf"],
  ["2-byte lead followed by a space (c3 20)", "c3 20"],
  ["3-byte lead, 1 continuation, then a space (e2 82 20)", "e2 82 20"],
  ["truncated at message end: c3", "c3"],
  ["truncated at message end: e2 82", "e2 82"],
  ["truncated at message end: f0 9f 98", "f0 9f 98"],
  ["truncated at message end: f4 8f bf", "f4 8f bf"],
];

INVALID.forEach(([what, seq], i) => {
  wsCase(`6.3.${i + 1} ${what} is closed with 1007`, async (c) => {
    // Valid text around the bad sequence (except when it must end the message).
    const tail = what.startsWith("truncated") ? "" : "-edited";
    await c.send(frame(OP.TEXT, cat("κόσμε", hex(seq), tail)));
    await expectClose(c, 1007);
  });
});

wsCase("6.3.28 invalid UTF-8 in a later fragment is closed with 1007, no echo", async (c) => {
  await c.send(cat(
    frame(OP.TEXT, "κόσμε", { fin: false }),
    frame(OP.CONT, "-valid-", { fin: false }),
    frame(OP.CONT, cat(hex("ed a0 80"), "edited")),
  ));
  await expectClose(c, 1007);
});

wsCase(
  "6.3.29 a character cut by the end of a fragmented message is closed with 1007",
  async (c) => {
    await c.send(cat(frame(OP.TEXT, "κόσμε", { fin: false }), frame(OP.CONT, hex("e2 82"))));
    await expectClose(c, 1007);
  },
);

wsCase("6.3.30 invalid UTF-8 in 1-byte fragments is closed with 1007", async (c) => {
  await c.send(cat(...fragments(OP.TEXT, cat("κόσμε", hex("f4 90 80 80"), "edited"), 1)));
  await expectClose(c, 1007);
});

wsCase("6.3.31 a valid text echoed, then an invalid one in the same write: 1007", async (c) => {
  await c.send(cat(frame(OP.TEXT, "valid"), frame(OP.TEXT, hex("c0 af"))));
  await expectMessage(c, OP.TEXT, "valid");
  await expectClose(c, 1007);
});

wsCase("6.3.32 invalid UTF-8 in a binary message is not checked: echoed", async (c) => {
  const p = hex("c0 af ed a0 80 f4 90 80 80 ff");
  await c.send(frame(OP.BINARY, p));
  await expectMessage(c, OP.BINARY, p);
  await closeNormally(c);
});

wsCase(
  "6.3.33 invalid UTF-8 deep in a 64 KiB text (native path) is closed with 1007",
  async (c) => {
    const p = textOfLength(65536);
    p.set(hex("ed a0 80"), 40_000);
    await c.send(frame(OP.TEXT, p));
    await expectClose(c, 1007);
  },
);

// ---- 6.4: fail fast ------------------------------------------------------------------------
// The client holds the rest back until it has read the server's close frame: a server that
// waits for the end of the message (or frame) never answers, and the watchdog fails the case.

const failFast = { watchdogMs: FAIL_FAST_WATCHDOG_MS };

/** After the early close: the rest of the data and the close reply, then TCP must end. */
async function finish(c: RawClient, rest: Uint8Array): Promise<void> {
  await c.send(cat(rest, frame(OP.CLOSE, hex("03 ef"))));
  await expectEof(c);
}

wsCase(
  "6.4.1 fail-fast: first fragment holds U+110000: 1007 before the other fragments are sent",
  async (c) => {
    await c.send(frame(OP.TEXT, cat("κόσμε", hex("f4 90 80 80")), { fin: false }));
    await expectCloseFrame(c, 1007);
    await finish(c, cat(frame(OP.CONT, "edited", { fin: false }), frame(OP.CONT, "end")));
  },
  failFast,
);

wsCase(
  "6.4.2 fail-fast: first fragment holds a surrogate: 1007 before the other fragments are sent",
  async (c) => {
    await c.send(frame(OP.TEXT, cat("κόσμε", hex("ed a0 80"), "edited"), { fin: false }));
    await expectCloseFrame(c, 1007);
    await finish(c, frame(OP.CONT, "end"));
  },
  failFast,
);

wsCase(
  "6.4.3 fail-fast: a valid first fragment, an invalid second one: 1007 before the last",
  async (c) => {
    await c.send(frame(OP.TEXT, cat("κόσμε", hex("f4")), { fin: false }));
    await c.send(frame(OP.CONT, cat(hex("90 80 80"), "edited"), { fin: false }));
    await expectCloseFrame(c, 1007);
    await finish(c, frame(OP.CONT, "end"));
  },
  failFast,
);

wsCase(
  "6.4.4 fail-fast: one frame, header and an invalid first part sent: 1007 before the rest",
  async (c) => {
    const f = frame(OP.TEXT, cat("κόσμε", hex("f4 90 80 80"), "-edited-and-some-more-text"));
    const cut = f.length - 20; // header (6 bytes) + "κόσμε" + f4 90 80 80 + some text
    await c.send(f.subarray(0, cut));
    await expectCloseFrame(c, 1007);
    await finish(c, f.subarray(cut));
  },
  failFast,
);

wsCase(
  "6.4.5 fail-fast: one frame, valid first part, then a part with the invalid byte alone",
  async (c) => {
    const f = frame(OP.TEXT, cat("κόσμε", hex("f4 90 80 80"), "edited"));
    const at = 6 + utf8("κόσμε").length + 1; // just after the f4 lead byte (still valid)
    await c.send(f.subarray(0, at));
    await c.send(f.subarray(at, at + 1)); // 0x90: cannot follow f4
    await expectCloseFrame(c, 1007);
    await finish(c, f.subarray(at + 1));
  },
  failFast,
);

wsCase(
  "6.4.6 fail-fast: a 64 KiB frame with a surrogate in its first 2 KiB: 1007 before the rest",
  async (c) => {
    const p = textOfLength(65536);
    p.set(hex("ed a0 80"), 1500);
    const f = clientFrame({ opcode: OP.TEXT, payload: p });
    const cut = 14 + 2048; // 64-bit length header, then 2 KiB of payload
    await c.send(f.subarray(0, cut));
    await expectCloseFrame(c, 1007);
    await finish(c, f.subarray(cut));
  },
  failFast,
);

wsCase(
  "6.4.7 fail-fast: a 256 KiB frame, 32 KiB valid, then 32 KiB with U+110000: 1007 before the rest",
  async (c) => {
    const p = textOfLength(256 * 1024);
    p.set(hex("f4 90 80 80"), 48 * 1024);
    const f = clientFrame({ opcode: OP.TEXT, payload: p });
    const header = 14;
    await c.send(f.subarray(0, header + 32 * 1024));
    await c.send(f.subarray(header + 32 * 1024, header + 64 * 1024));
    await expectCloseFrame(c, 1007);
    await finish(c, f.subarray(header + 64 * 1024));
  },
  failFast,
);

wsCase(
  "6.4.8 fail-fast: a lone continuation byte in a 1-byte chunk of a large fragment",
  async (c) => {
    const p = textOfLength(100_000);
    const at = 13 * 3846; // an 'a' of the 13-byte pattern, between characters
    assert.equal(p[at], 0x61);
    p[at] = 0x80;
    const f = clientFrame({ opcode: OP.TEXT, payload: p, fin: false });
    const header = 14; // 64-bit length
    await c.send(f.subarray(0, header + at));
    await c.send(f.subarray(header + at, header + at + 1));
    await expectCloseFrame(c, 1007);
    await finish(c, cat(f.subarray(header + at + 1), frame(OP.CONT, "end")));
  },
  failFast,
);
