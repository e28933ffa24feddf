// Autobahn category 4: opcodes. Non-control opcodes 3-7 and control opcodes 0xB-0xF are
// reserved: a frame using one fails the connection with 1002, after the valid message written
// just before it (in the same write) has been echoed.

import { cat, expectClose, expectMessage, frame, OP, wsCase } from "./_helpers.ts";

const RESERVED = [
  ...[3, 4, 5, 6, 7].map((op, i) => [`4.1.${i + 1}`, op] as const),
  ...[0xb, 0xc, 0xd, 0xe, 0xf].map((op, i) => [`4.2.${i + 1}`, op] as const),
];

for (const [id, op] of RESERVED) {
  const name = `0x${op.toString(16)}`;
  wsCase(`${id} opcode ${name} after a valid message: echo, then 1002`, async (c) => {
    await c.send(cat(
      frame(OP.TEXT, `before opcode ${name}`),
      frame(op, "reserved opcode payload"),
      frame(OP.PING, "never answered"),
    ));
    await expectMessage(c, OP.TEXT, `before opcode ${name}`);
    await expectClose(c, 1002);
  });
}

wsCase("4.3.1 opcode 0x3 with no payload, alone, is closed with 1002", async (c) => {
  await c.send(frame(3));
  await expectClose(c, 1002);
});

wsCase("4.3.2 opcode 0xb with no payload, alone, is closed with 1002", async (c) => {
  await c.send(frame(0xb));
  await expectClose(c, 1002);
});

wsCase("4.3.3 opcode 0x4 in the middle of a fragmented text is closed with 1002", async (c) => {
  await c.send(cat(frame(OP.TEXT, "frag", { fin: false }), frame(4, "ment")));
  await expectClose(c, 1002);
});

wsCase("4.3.4 opcode 0xc (non-final) after a binary echo is closed with 1002", async (c) => {
  await c.send(frame(OP.BINARY, new Uint8Array([1, 2, 3])));
  await expectMessage(c, OP.BINARY, new Uint8Array([1, 2, 3]));
  await c.send(frame(0xc, "x", { fin: false }));
  await expectClose(c, 1002);
});
