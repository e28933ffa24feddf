// Autobahn category 2: pings and pongs. Every ping is answered by a pong with the identical
// payload; a ping over 125 bytes is a protocol error; unsolicited pongs are ignored.

import {
  cat,
  closeNormally,
  expectClose,
  expectMessage,
  frame,
  hex,
  OP,
  sendInChunks,
  utf8,
  wsCase,
} from "./_helpers.ts";

wsCase("2.1 ping without payload gets an empty pong", async (c) => {
  await c.send(frame(OP.PING));
  await expectMessage(c, OP.PONG, new Uint8Array(0));
  await closeNormally(c);
});

wsCase("2.2 ping with a small text payload gets a pong with the same payload", async (c) => {
  await c.send(frame(OP.PING, "Hello, world!"));
  await expectMessage(c, OP.PONG, "Hello, world!");
  await closeNormally(c);
});

wsCase("2.3 ping with a binary payload gets a pong with the same bytes", async (c) => {
  const p = hex("00 ff fe fd fc fb 00 ff 80 c0 ed a0 80");
  await c.send(frame(OP.PING, p));
  await expectMessage(c, OP.PONG, p);
  await closeNormally(c);
});

wsCase("2.4 ping with a 125-byte payload gets a 125-byte pong", async (c) => {
  const p = new Uint8Array(125).fill(0xfe);
  await c.send(frame(OP.PING, p));
  await expectMessage(c, OP.PONG, p);
  await closeNormally(c);
});

wsCase("2.5 ping with a 126-byte payload is closed with 1002 and gets no pong", async (c) => {
  await c.send(frame(OP.PING, new Uint8Array(126).fill(0xfe)));
  await expectClose(c, 1002);
});

wsCase("2.6 ping with a 125-byte payload sent in 1-byte chunks gets its pong", async (c) => {
  const p = new Uint8Array(125).map((_, i) => i);
  await sendInChunks(c, frame(OP.PING, p), 1);
  await expectMessage(c, OP.PONG, p);
  await closeNormally(c);
});

wsCase("2.7 an unsolicited empty pong is ignored", async (c) => {
  await c.send(cat(frame(OP.PONG), frame(OP.TEXT, "after the pong")));
  await expectMessage(c, OP.TEXT, "after the pong");
  await closeNormally(c);
});

wsCase("2.8 an unsolicited pong with a payload is ignored", async (c) => {
  await c.send(frame(OP.PONG, "unsolicited pong payload"));
  await c.send(frame(OP.BINARY, hex("01 02 03")));
  await expectMessage(c, OP.BINARY, hex("01 02 03"));
  await closeNormally(c);
});

wsCase("2.9 an unsolicited pong followed by a ping: only the ping is answered", async (c) => {
  await c.send(cat(frame(OP.PONG, "unsolicited"), frame(OP.PING, "ping payload")));
  await expectMessage(c, OP.PONG, "ping payload");
  await closeNormally(c);
});

const tenPings = Array.from({ length: 10 }, (_, i) => utf8(`payload-${i}`));

wsCase("2.10 ten pings in one write get ten pongs in order", async (c) => {
  await c.send(cat(...tenPings.map((p) => frame(OP.PING, p))));
  for (const p of tenPings) await expectMessage(c, OP.PONG, p);
  await closeNormally(c);
});

wsCase("2.11 ten pings, each sent in 1-byte chunks, get ten pongs in order", async (c) => {
  for (const p of tenPings) await sendInChunks(c, frame(OP.PING, p), 1);
  for (const p of tenPings) await expectMessage(c, OP.PONG, p);
  await closeNormally(c);
});

wsCase("2.12 a ping between two messages: replies keep the order of their causes", async (c) => {
  await c.send(cat(frame(OP.TEXT, "first"), frame(OP.PING, "p"), frame(OP.TEXT, "second")));
  await expectMessage(c, OP.TEXT, "first");
  await expectMessage(c, OP.PONG, "p");
  await expectMessage(c, OP.TEXT, "second");
  await closeNormally(c);
});
