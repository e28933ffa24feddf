// The client side of the codec: FrameParser in client mode (server frames must be unmasked),
// masked frames out, the terminal drawing of a frame, and the client's arguments and statuses.

import assert from "node:assert/strict";
import {
  ClientExit,
  drawFrame,
  exitStatus,
  parseClientArgs,
  UsageError,
} from "../../src/client/cli.ts";
import { type FramePiece, ProtocolError } from "../../src/protocol/frame.ts";
import { FrameParser } from "../../src/protocol/frame_decoder.ts";
import { encodeMaskedFrame, writeHeader } from "../../src/protocol/frame_encoder.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** An unmasked frame as a server sends it. */
function serverFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const out = new Uint8Array(payload.length + 10);
  const at = writeHeader(out, 0, opcode, fin, payload.length);
  out.set(payload, at);
  return out.subarray(0, at + payload.length);
}

function parse(parser: FrameParser, ...chunks: Uint8Array[]): FramePiece[] {
  const out: FramePiece[] = [];
  for (const c of chunks) parser.push(c, out);
  return out;
}

function parseError(parser: FrameParser, bytes: Uint8Array): ProtocolError {
  try {
    parser.push(bytes, []);
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  assert.fail("no protocol error");
}

Deno.test("client-mode parser: unmasked server frames, whole or split anywhere", () => {
  const payload = new Uint8Array(300).map((_, i) => i);
  const wire = serverFrame(0x2, payload);
  for (let cut = 0; cut <= wire.length; cut++) {
    const frames = parse(
      new FrameParser({ maxFrameSize: 1 << 20, role: "client" }),
      wire.slice(0, cut),
      wire.slice(cut),
    );
    const joined = new Uint8Array(frames.reduce((n, f) => n + f.payload.length, 0));
    let at = 0;
    for (const f of frames) {
      assert.equal(f.maskKey, 0);
      assert.equal(f.headerLength, 4, "16-bit length, no masking key");
      joined.set(f.payload, at);
      at += f.payload.length;
    }
    assert.deepEqual(joined, payload, `cut at ${cut}`);
  }
});

Deno.test("client-mode parser: a masked server frame is a protocol error (1002)", () => {
  const masked = encodeMaskedFrame(0x1, true, text("hi"), 0x01020304);
  const err = parseError(new FrameParser({ maxFrameSize: 1024, role: "client" }), masked);
  assert.equal(err.code, 1002);
  assert.equal(err.message, "server frame is masked");
  // And the server side, as before: an unmasked client frame is one too.
  const server = parseError(new FrameParser({ maxFrameSize: 1024 }), serverFrame(0x1, text("x")));
  assert.equal(server.message, "client frame is not masked");
});

Deno.test("encodeMaskedFrame: MASK bit, key after the length, the server parser unmasks it", () => {
  const payload = text("hello, masked world");
  const wire = encodeMaskedFrame(0x1, true, payload, 0xa1b2c3d4);
  assert.equal(wire[0], 0x81);
  assert.equal(wire[1], 0x80 | payload.length);
  assert.deepEqual([...wire.subarray(2, 6)], [0xa1, 0xb2, 0xc3, 0xd4]);
  assert.notDeepEqual(wire.subarray(6), payload, "the payload goes out masked");
  assert.deepEqual(payload, text("hello, masked world"), "the caller's payload is unchanged");
  const [f] = parse(new FrameParser({ maxFrameSize: 1024 }), wire);
  assert.equal(f.maskKey, 0xa1b2c3d4);
  assert.deepEqual(f.payload, payload);
  const big = encodeMaskedFrame(0x2, false, new Uint8Array(70_000), 7);
  assert.equal(big[0], 0x02);
  assert.equal(big[1], 0x80 | 127);
  assert.equal(big.length, 10 + 4 + 70_000);
});

Deno.test("drawFrame: the header's fields, the key, and the payload masked and unmasked", () => {
  const out = drawFrame("out", {
    fin: true,
    rsv: 0,
    opcode: 1,
    masked: true,
    maskKey: 0x01020304,
    length: 2,
    headerLength: 6,
    payload: text("hi"),
  });
  assert.match(out, /^> text frame, client → server\n/);
  assert.match(out, /FIN 1 {2}RSV 000 {2}opcode 0x1 \(text\) {2}MASK 1 {2}length 2 \(7-bit\)/);
  assert.match(out, /masking key 01 02 03 04/);
  assert.match(out, /on the wire 69 6b\n/); // 0x68^0x01, 0x69^0x02
  assert.match(out, /unmasked {4}68 69$/);
  const close = drawFrame("in", {
    fin: true,
    rsv: 0,
    opcode: 8,
    masked: false,
    maskKey: 0,
    length: 5,
    headerLength: 2,
    payload: new Uint8Array([0x0f, 0xa0, 0x62, 0x79, 0x65]),
  });
  assert.match(close, /MASK 0/);
  assert.match(close, /close code 4000 reason "bye"$/);
});

Deno.test("client arguments: URL, flags, --close CODE REASON, and what is refused", () => {
  const a = parseClientArgs(["ws://h:1/p?q", "--binary", "--ping", "--close", "4000", "bye"]);
  assert.equal(a.url.href, "ws://h:1/p?q");
  assert.deepEqual([a.binary, a.ping, a.showFrames], [true, true, false]);
  assert.deepEqual(a.close, { code: 4000, reason: "bye" });
  assert.deepEqual(parseClientArgs(["--close", "1001", "", "ws://h/"]).close, {
    code: 1001,
    reason: "",
  });
  for (
    const bad of [[], ["http://h/"], ["ws://h/", "--nope"], ["ws://h/", "--close", "1006", ""], [
      "ws://h/",
      "--close",
      "1000",
    ], [
      "ws://a/",
      "ws://b/",
    ]]
  ) {
    assert.throws(() => parseClientArgs(bad), UsageError, bad.join(" "));
  }
});

Deno.test("client exit status: 0 for a clean close as asked, 3 otherwise", () => {
  const c = { reason: "", error: null };
  assert.equal(
    exitStatus({ ...c, code: 1000, clean: true, initiator: "client" }, 1000),
    ClientExit.Ok,
  );
  assert.equal(
    exitStatus({ ...c, code: 4000, clean: true, initiator: "client" }, 4000),
    ClientExit.Ok,
  );
  assert.equal(
    exitStatus({ ...c, code: 1001, clean: true, initiator: "server" }, 1000),
    ClientExit.Ok,
  );
  assert.equal(
    exitStatus({ ...c, code: 1002, clean: true, initiator: "server" }, 1000),
    ClientExit.Abnormal,
  );
  assert.equal(
    exitStatus({ ...c, code: 1006, clean: false, initiator: "none" }, 1000),
    ClientExit.Abnormal,
  );
});
