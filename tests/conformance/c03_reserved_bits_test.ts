// Autobahn category 3: reserved bits. No extension is negotiated, so a frame with RSV1, RSV2 or
// RSV3 set fails the connection with 1002; a valid message written just before the bad frame,
// in the same write, is still echoed first.

import {
  cat,
  expectClose,
  expectMessage,
  frame,
  hex,
  OP,
  sendInChunks,
  wsCase,
} from "./_helpers.ts";

const RSV = [[4, "RSV1"], [2, "RSV2"], [1, "RSV3"]] as const;
const TARGETS = [
  [OP.TEXT, "text", "bad text"],
  [OP.BINARY, "binary", hex("00 01 02 fe ff")],
  [OP.PING, "ping", "bad ping"],
] as const;

let n = 0;
for (const [opcode, kind, payload] of TARGETS) {
  for (const [rsv, bit] of RSV) {
    n++;
    wsCase(`3.${n} ${bit} on a ${kind} frame after a valid message: echo, then 1002`, async (c) => {
      await c.send(cat(
        frame(OP.TEXT, `valid message ${n}`),
        frame(opcode, payload, { rsv }),
        frame(OP.TEXT, "never echoed"),
      ));
      await expectMessage(c, OP.TEXT, `valid message ${n}`);
      await expectClose(c, 1002);
    });
  }
}

wsCase("3.10 RSV1|RSV2|RSV3 on a close frame is closed with 1002", async (c) => {
  await c.send(frame(OP.CLOSE, hex("03 e8"), { rsv: 7 }));
  await expectClose(c, 1002);
});

wsCase("3.11 RSV2|RSV3 on a pong frame is closed with 1002", async (c) => {
  await c.send(frame(OP.PONG, "", { rsv: 3 }));
  await expectClose(c, 1002);
});

wsCase("3.12 RSV1 on a continuation frame is closed with 1002", async (c) => {
  await c.send(cat(
    frame(OP.TEXT, "frag", { fin: false }),
    frame(OP.CONT, "ment", { rsv: 4 }),
  ));
  await expectClose(c, 1002);
});

wsCase("3.13 RSV1|RSV3 on a binary frame sent in 1-byte chunks after an echo: 1002", async (c) => {
  await c.send(frame(OP.BINARY, hex("0a 0b")));
  await sendInChunks(c, frame(OP.BINARY, hex("0c 0d 0e"), { rsv: 5 }), 1);
  await expectMessage(c, OP.BINARY, hex("0a 0b"));
  await expectClose(c, 1002);
});
