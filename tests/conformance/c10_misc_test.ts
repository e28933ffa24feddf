// Autobahn category 10 and other framing edge cases: a 64-bit length with its most significant
// bit set and unmasked client frames are protocol errors (1002); a frame cut in two at any byte,
// header included, is reassembled and echoed.

import {
  binaryOfLength,
  cat,
  clientFrame,
  closeNormally,
  expectClose,
  expectMessage,
  frame,
  hex,
  OP,
  pause,
  type RawClient,
  sendInChunks,
  utf8,
  wsCase,
} from "./_helpers.ts";

/** A header with a 64-bit length field holding `hi`:`lo`, and a masking key; no payload. */
function header64(opcode: number, hi: number, lo: number): Uint8Array {
  const f = clientFrame({ opcode, payload: new Uint8Array(0), lengthBits: 64 });
  const v = new DataView(f.buffer);
  v.setUint32(2, hi);
  v.setUint32(6, lo);
  return f;
}

wsCase(
  "10.1.1 a 64-bit length with its most significant bit set is closed with 1002",
  async (c) => {
    await c.send(cat(header64(OP.BINARY, 0x8000_0000, 1), new Uint8Array(16)));
    await expectClose(c, 1002);
  },
);

wsCase("10.1.2 a 64-bit length of 2^64-1 is closed with 1002", async (c) => {
  await c.send(header64(OP.TEXT, 0xffff_ffff, 0xffff_ffff));
  await expectClose(c, 1002);
});

wsCase("10.1.3 a valid message, then a length with the MSB set: echo, then 1002", async (c) => {
  await c.send(cat(frame(OP.TEXT, "before"), header64(OP.TEXT, 0x8000_0000, 0)));
  await expectMessage(c, OP.TEXT, "before");
  await expectClose(c, 1002);
});

wsCase("10.1.4 a 64-bit length of 2^63-1 (MSB clear) is over the limit: 1009", async (c) => {
  await c.send(header64(OP.BINARY, 0x7fff_ffff, 0xffff_ffff));
  await expectClose(c, 1009);
});

wsCase("10.2.1 an unmasked text frame is closed with 1002", async (c) => {
  await c.send(frame(OP.TEXT, "unmasked", { mask: false }));
  await expectClose(c, 1002);
});

wsCase("10.2.2 an unmasked ping is closed with 1002 and gets no pong", async (c) => {
  await c.send(frame(OP.PING, "unmasked", { mask: false }));
  await expectClose(c, 1002);
});

wsCase("10.2.3 an unmasked empty binary frame is closed with 1002", async (c) => {
  await c.send(frame(OP.BINARY, new Uint8Array(0), { mask: false }));
  await expectClose(c, 1002);
});

wsCase("10.2.4 a valid message, then an unmasked continuation: echo, then 1002", async (c) => {
  await c.send(cat(
    frame(OP.TEXT, "masked"),
    frame(OP.TEXT, "frag", { fin: false }),
    frame(OP.CONT, "ment", { mask: false }),
  ));
  await expectMessage(c, OP.TEXT, "masked");
  await expectClose(c, 1002);
});

wsCase("10.2.5 an unmasked close frame is closed with 1002", async (c) => {
  await c.send(frame(OP.CLOSE, hex("03 e8"), { mask: false }));
  await expectClose(c, 1002);
});

wsCase("10.2.6 an all-zero masking key is still a masked frame: echoed", async (c) => {
  await c.send(frame(OP.TEXT, "zero key", { maskKey: new Uint8Array(4) }));
  await expectMessage(c, OP.TEXT, "zero key");
  await closeNormally(c);
});

/** Sends `bytes` as two writes cut at every position in `cuts`, expecting the echo each time. */
async function splitEverywhere(
  c: RawClient,
  opcode: number,
  payload: Uint8Array,
  cuts: Iterable<number>,
): Promise<void> {
  for (const cut of cuts) {
    const bytes = frame(opcode, payload);
    await c.send(bytes.subarray(0, cut));
    await pause();
    await c.send(bytes.subarray(cut));
    const answer = opcode === OP.PING ? OP.PONG : opcode;
    await expectMessage(c, answer, payload);
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

wsCase("10.3.1 a text frame (7-bit length) cut at every byte boundary is echoed", async (c) => {
  const p = utf8("Hello-µ@ßöäüàá-UTF-8!!");
  await splitEverywhere(c, OP.TEXT, p, range(1, 6 + p.length));
  await closeNormally(c);
});

wsCase("10.3.2 a binary frame (16-bit length) cut at every byte boundary is echoed", async (c) => {
  const p = binaryOfLength(130, 3);
  await splitEverywhere(c, OP.BINARY, p, range(1, 8 + p.length));
  await closeNormally(c);
});

wsCase(
  "10.3.3 a 64 KiB binary frame (64-bit length) cut at every byte of its header and first " +
    "and last payload bytes is echoed",
  async (c) => {
    const p = binaryOfLength(65536, 4);
    const total = 14 + p.length;
    await splitEverywhere(c, OP.BINARY, p, [...range(1, 24), ...range(total - 8, total)]);
    await closeNormally(c);
  },
);

wsCase("10.3.4 a ping cut at every byte boundary gets its pong each time", async (c) => {
  await splitEverywhere(c, OP.PING, utf8("ping payload"), range(1, 6 + 12));
  await closeNormally(c);
});

wsCase("10.3.5 an empty text frame cut at every byte boundary is echoed", async (c) => {
  await splitEverywhere(c, OP.TEXT, new Uint8Array(0), range(1, 6));
  await closeNormally(c);
});

wsCase(
  "10.3.6 a two-frame sequence (text, then binary with a 16-bit length) cut at every byte boundary",
  async (c) => {
    const text = utf8("first-κόσμε");
    const bin = binaryOfLength(200, 6);
    const both = cat(frame(OP.TEXT, text), frame(OP.BINARY, bin));
    for (let cut = 1; cut < both.length; cut++) {
      await c.send(both.subarray(0, cut));
      await pause();
      await c.send(both.subarray(cut));
      await expectMessage(c, OP.TEXT, text);
      await expectMessage(c, OP.BINARY, bin);
    }
    await closeNormally(c);
  },
);

wsCase(
  "10.4.1 fragments, a ping and a binary frame sent one byte per write all work",
  async (c) => {
    await sendInChunks(
      c,
      cat(
        frame(OP.TEXT, "κόσ", { fin: false }),
        frame(OP.PING, "in between"),
        frame(OP.CONT, "με"),
        frame(OP.BINARY, hex("00 ff")),
      ),
      1,
    );
    await expectMessage(c, OP.PONG, "in between");
    await expectMessage(c, OP.TEXT, "κόσμε");
    await expectMessage(c, OP.BINARY, hex("00 ff"));
    await closeNormally(c);
  },
);
