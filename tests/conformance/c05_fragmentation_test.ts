// Autobahn category 5: fragmentation. Fragmented messages are reassembled and echoed; control
// frames may come between fragments and are answered first; a continuation without a message,
// a new message inside a fragmented one, and fragmented control frames fail with 1002.

import {
  binaryOfLength,
  cat,
  closeNormally,
  expectClose,
  expectMessage,
  fragments,
  frame,
  OP,
  sendInChunks,
  textOfLength,
  utf8,
  wsCase,
} from "./_helpers.ts";

wsCase("5.1 a ping in two fragments is closed with 1002", async (c) => {
  await c.send(cat(frame(OP.PING, "frag", { fin: false }), frame(OP.CONT, "ment")));
  await expectClose(c, 1002);
});

wsCase("5.2 a pong in two fragments is closed with 1002", async (c) => {
  await c.send(cat(frame(OP.PONG, "frag", { fin: false }), frame(OP.CONT, "ment")));
  await expectClose(c, 1002);
});

wsCase("5.3 a close frame without FIN is closed with 1002", async (c) => {
  await c.send(cat(
    frame(OP.CLOSE, new Uint8Array([0x03, 0xe8]), { fin: false }),
    frame(OP.CONT, "x"),
  ));
  await expectClose(c, 1002);
});

wsCase("5.4 a text in two fragments is echoed as one message", async (c) => {
  await c.send(cat(frame(OP.TEXT, "fragment1", { fin: false }), frame(OP.CONT, "fragment2")));
  await expectMessage(c, OP.TEXT, "fragment1fragment2");
  await closeNormally(c);
});

wsCase("5.5 a text in two fragments sent in 1-byte chunks is echoed", async (c) => {
  const bytes = cat(frame(OP.TEXT, "fragment1", { fin: false }), frame(OP.CONT, "fragment2"));
  await sendInChunks(c, bytes, 1);
  await expectMessage(c, OP.TEXT, "fragment1fragment2");
  await closeNormally(c);
});

wsCase("5.6 a binary in two fragments is echoed as one message", async (c) => {
  const p = binaryOfLength(300, 5);
  await c.send(cat(...fragments(OP.BINARY, p, 150)));
  await expectMessage(c, OP.BINARY, p);
  await closeNormally(c);
});

for (const [i, size] of [[7, 1], [8, 7], [9, 100]] as const) {
  wsCase(`5.${i} a text in fragments of ${size} bytes is echoed`, async (c) => {
    const p = textOfLength(1000); // fragments cut characters apart
    await c.send(cat(...fragments(OP.TEXT, p, size)));
    await expectMessage(c, OP.TEXT, p);
    await closeNormally(c);
  });
}

wsCase("5.10 a binary in 1-byte fragments (256 frames) is echoed", async (c) => {
  const p = binaryOfLength(256, 10);
  await c.send(cat(...fragments(OP.BINARY, p, 1)));
  await expectMessage(c, OP.BINARY, p);
  await closeNormally(c);
});

wsCase("5.11 a ping between two text fragments: the pong comes before the echo", async (c) => {
  await c.send(cat(
    frame(OP.TEXT, "fragment1", { fin: false }),
    frame(OP.PING, "pongme!"),
    frame(OP.CONT, "fragment2"),
  ));
  await expectMessage(c, OP.PONG, "pongme!");
  await expectMessage(c, OP.TEXT, "fragment1fragment2");
  await closeNormally(c);
});

wsCase("5.12 the same, sent in 1-byte chunks", async (c) => {
  await sendInChunks(
    c,
    cat(
      frame(OP.TEXT, "fragment1", { fin: false }),
      frame(OP.PING, "pongme!"),
      frame(OP.CONT, "fragment2"),
    ),
    1,
  );
  await expectMessage(c, OP.PONG, "pongme!");
  await expectMessage(c, OP.TEXT, "fragment1fragment2");
  await closeNormally(c);
});

wsCase("5.13 pings between every fragment: all pongs in order, then the echo", async (c) => {
  const parts = ["a", "bb", "ccc", "dddd", "eeeee"];
  const frames: Uint8Array[] = [];
  parts.forEach((p, i) => {
    frames.push(frame(i === 0 ? OP.TEXT : OP.CONT, p, { fin: i === parts.length - 1 }));
    if (i < parts.length - 1) frames.push(frame(OP.PING, `ping ${i}`));
  });
  await c.send(cat(...frames));
  for (let i = 0; i < parts.length - 1; i++) await expectMessage(c, OP.PONG, `ping ${i}`);
  await expectMessage(c, OP.TEXT, parts.join(""));
  await closeNormally(c);
});

wsCase("5.14 an unsolicited pong between fragments is ignored", async (c) => {
  await c.send(cat(
    frame(OP.BINARY, new Uint8Array([1]), { fin: false }),
    frame(OP.PONG, "ignored"),
    frame(OP.CONT, new Uint8Array([2])),
  ));
  await expectMessage(c, OP.BINARY, new Uint8Array([1, 2]));
  await closeNormally(c);
});

wsCase("5.15 a final continuation with no message started is closed with 1002", async (c) => {
  await c.send(cat(frame(OP.TEXT, "valid"), frame(OP.CONT, "orphan")));
  await expectMessage(c, OP.TEXT, "valid");
  await expectClose(c, 1002);
});

wsCase("5.16 a non-final continuation with no message started is closed with 1002", async (c) => {
  await c.send(cat(frame(OP.CONT, "orphan", { fin: false }), frame(OP.CONT, "orphan")));
  await expectClose(c, 1002);
});

wsCase("5.17 an orphan continuation sent in 1-byte chunks is closed with 1002", async (c) => {
  await sendInChunks(c, frame(OP.CONT, "orphan"), 1);
  await expectClose(c, 1002);
});

wsCase("5.18 a continuation after a finished fragmented message is closed with 1002", async (c) => {
  await c.send(cat(
    frame(OP.TEXT, "one", { fin: false }),
    frame(OP.CONT, "two"),
    frame(OP.CONT, "three"),
  ));
  await expectMessage(c, OP.TEXT, "onetwo");
  await expectClose(c, 1002);
});

wsCase("5.19 a new text frame inside a fragmented text is closed with 1002", async (c) => {
  await c.send(cat(
    frame(OP.TEXT, "fragment1", { fin: false }),
    frame(OP.TEXT, "fragment2"),
    frame(OP.CONT, "fragment3"),
  ));
  await expectClose(c, 1002);
});

wsCase(
  "5.20 a new non-final binary frame inside a fragmented text is closed with 1002",
  async (c) => {
    await c.send(cat(
      frame(OP.TEXT, "fragment1", { fin: false }),
      frame(OP.BINARY, "fragment2", { fin: false }),
      frame(OP.CONT, "fragment3"),
    ));
    await expectClose(c, 1002);
  },
);

wsCase("5.21 empty fragments only: an empty text is echoed", async (c) => {
  await c.send(cat(
    frame(OP.TEXT, "", { fin: false }),
    frame(OP.CONT, "", { fin: false }),
    frame(OP.CONT, ""),
  ));
  await expectMessage(c, OP.TEXT, "");
  await closeNormally(c);
});

wsCase("5.22 empty first fragments, then data: the data is echoed", async (c) => {
  await c.send(cat(
    frame(OP.TEXT, "", { fin: false }),
    frame(OP.CONT, "", { fin: false }),
    frame(OP.CONT, "payload"),
  ));
  await expectMessage(c, OP.TEXT, "payload");
  await closeNormally(c);
});

wsCase("5.23 data, then empty fragments to the end: the data is echoed", async (c) => {
  await c.send(cat(
    frame(OP.BINARY, new Uint8Array([9, 8, 7]), { fin: false }),
    frame(OP.CONT, new Uint8Array(0), { fin: false }),
    frame(OP.CONT, new Uint8Array(0)),
  ));
  await expectMessage(c, OP.BINARY, new Uint8Array([9, 8, 7]));
  await closeNormally(c);
});

wsCase("5.24 empty fragments between data fragments are skipped", async (c) => {
  await c.send(cat(
    frame(OP.TEXT, "ab", { fin: false }),
    frame(OP.CONT, "", { fin: false }),
    frame(OP.CONT, "cd", { fin: false }),
    frame(OP.CONT, "", { fin: false }),
    frame(OP.CONT, "ef"),
  ));
  await expectMessage(c, OP.TEXT, "abcdef");
  await closeNormally(c);
});

wsCase("5.25 two fragmented messages back to back are echoed in order", async (c) => {
  const a = textOfLength(500), b = binaryOfLength(700, 25);
  await c.send(cat(...fragments(OP.TEXT, a, 64), ...fragments(OP.BINARY, b, 64)));
  await expectMessage(c, OP.TEXT, a);
  await expectMessage(c, OP.BINARY, b);
  await closeNormally(c);
});

wsCase("5.26 a fragmented message written fragment by fragment is echoed", async (c) => {
  const p = utf8("Hello-µ@ßöäüàá-UTF-8!!");
  for (const f of fragments(OP.TEXT, p, 3)) await c.send(f);
  await expectMessage(c, OP.TEXT, p);
  await closeNormally(c);
});

// Kept last in this file: with the bug it guards against, the server throws outside any
// handler, Deno reports an uncaught error and cancels whatever would run after it.
wsCase(
  "5.27 a 100-byte fragment, then a 64 KiB continuation whose payload arrives in a later read",
  async (c) => {
    const first = binaryOfLength(100, 27);
    const second = binaryOfLength(65536, 28);
    const cont = frame(OP.CONT, second); // 14-byte header (64-bit length)
    // The first fragment, the continuation's header and 10 payload bytes, then the rest.
    await c.send(cat(frame(OP.BINARY, first, { fin: false }), cont.subarray(0, 24)));
    await new Promise((r) => setTimeout(r, 20)); // let the server read that much on its own
    await c.send(cont.subarray(24));
    await expectMessage(c, OP.BINARY, cat(first, second));
    await closeNormally(c);
  },
);
