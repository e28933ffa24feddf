// permessage-deflate without sockets: the decoder's RSV1 rules, inflation in the Session (pieces,
// the size limit, memory taken only as output grows) and compression of what it sends.

import assert from "node:assert/strict";
import zlib from "node:zlib";
import {
  type DeflateOptions,
  type DeflateParams,
  Inflater,
  PerMessageDeflate,
} from "../../src/protocol/deflate.ts";
import { type FramePiece, ProtocolError } from "../../src/protocol/frame.ts";
import { FrameParser } from "../../src/protocol/frame_decoder.ts";
import {
  allocateFresh,
  type AllocateMessage,
  Message,
  Session,
} from "../../src/protocol/session.ts";
import { pieces } from "../support/frames.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const PARAMS: DeflateParams = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const OPTIONS: DeflateOptions = {
  windowBits: 15,
  memLevel: 8,
  threshold: 64,
  contextTakeover: false,
};

function compress(data: Uint8Array): Uint8Array {
  const z = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return new Uint8Array(z.buffer, z.byteOffset, z.length - 4);
}

/** A masked client frame header (mask key 0) followed by `payload`. */
function wire(b0: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(6 + payload.length);
  out[0] = b0;
  out[1] = 0x80 | payload.length;
  out.set(payload, 6);
  return out;
}

function parse(rsv1: boolean, bytes: Uint8Array): FramePiece[] | ProtocolError {
  const out: FramePiece[] = [];
  try {
    new FrameParser({ maxFrameSize: 1 << 20, rsv1 }).push(bytes, out);
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  return out;
}

Deno.test("decoder: RSV1 only with the extension, only on a message's first frame", () => {
  const p = new Uint8Array(3);
  assert.ok(Array.isArray(parse(true, wire(0xc1, p)))); // FIN+RSV1 text
  assert.ok(Array.isArray(parse(true, wire(0x42, p)))); // RSV1 binary, not FIN
  for (
    const [rsv1, b0, why] of [
      [false, 0xc1, "RSV1 without the extension"],
      [true, 0xc0, "RSV1 on a continuation"],
      [true, 0xc9, "RSV1 on a ping"],
      [true, 0xc8, "RSV1 on a close"],
      [true, 0xa1, "RSV2"],
      [true, 0x91, "RSV3"],
      [true, 0xe1, "RSV1+RSV2"],
    ] as const
  ) {
    const r = parse(rsv1, wire(b0, p));
    assert.ok(r instanceof ProtocolError, why);
    assert.equal(r.code, 1002, why);
  }
});

function session(maxMessage: number, allocate: AllocateMessage = allocateFresh) {
  const deflate = new PerMessageDeflate(PARAMS, OPTIONS);
  return { s: new Session({ maxMessage, allocate, deflate }), deflate };
}

Deno.test("session: a compressed message split over many reads inflates whole", () => {
  const text = "piece by piece, ".repeat(500);
  const z = compress(enc(text));
  const { s, deflate } = session(1 << 20);
  const cuts = [];
  for (let i = 7; i < z.length; i += 13) cuts.push(i);
  s.receive(pieces(1, z, cuts, { rsv: 4 }));
  const m = s.next();
  assert.ok(m !== null);
  assert.equal(m.type, "text");
  assert.equal(m.text, text);
  deflate.dispose();
});

Deno.test("session: inflation stops at the limit (1009), taking memory only as output grows", () => {
  let largest = 0, total = 0;
  const counting: AllocateMessage = (size, most) => {
    largest = Math.max(largest, size);
    total += size;
    return allocateFresh(size, most);
  };
  const max = 256 * 1024;
  const { s, deflate } = session(max, counting);
  s.receive(pieces(2, compress(new Uint8Array(64 * 1024 * 1024)), [], { rsv: 4 })); // 64 MiB of zeros
  s.next();
  const out = s.takeOutbox()!;
  assert.equal(out.length, 1);
  assert.equal((out[0].payload[0] << 8) | out[0].payload[1], 1009);
  assert.ok(largest <= max, `a buffer of ${largest} bytes`);
  assert.ok(total <= 2 * max, `${total} bytes allocated in all`);
  deflate.dispose();
});

Deno.test("session: the budget refusing a buffer closes 1013", () => {
  const { s, deflate } = session(1 << 20, () => null);
  s.receive(pieces(2, compress(new Uint8Array(4096)), [], { rsv: 4 }));
  s.next();
  const out = s.takeOutbox()!;
  assert.equal((out[0].payload[0] << 8) | out[0].payload[1], 1013);
  deflate.dispose();
});

Deno.test("session: sends are compressed (RSV1) from the threshold up; control frames never", () => {
  const { s, deflate } = session(1 << 20);
  s.ping(enc("p".repeat(100)));
  s.send(Message.text("x".repeat(1000)));
  s.send(Message.text("small"));
  const out = s.takeOutbox()!;
  assert.deepEqual(out.map((f) => [f.opcode, f.rsv1 === true]), [[9, false], [1, true], [
    1,
    false,
  ]]);
  const inf = new Inflater(15);
  const withTail = new Uint8Array(out[1].payload.length + 4);
  withTail.set(out[1].payload);
  withTail.set([0, 0, 0xff, 0xff], out[1].payload.length);
  const back = new Uint8Array(2000);
  const [n] = inf.inflate(withTail, 0, withTail.length, back, 0, back.length);
  assert.equal(dec(back.subarray(0, n)), "x".repeat(1000));
  inf.close();
  deflate.dispose();
});
