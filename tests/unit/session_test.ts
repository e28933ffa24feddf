// Session (src/protocol/session.ts): control frames, reassembly, continuation rules, limits,
// UTF-8, the closing handshake and the order in which replies are queued.

import assert from "node:assert/strict";
import { type FramePiece, type OutFrame, ProtocolError } from "../../src/protocol/frame.ts";
import { Message, Session } from "../../src/protocol/session.ts";
import { pieces } from "../support/frames.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A whole frame as the decoder would hand it on. */
function f(opcode: number, payload: Uint8Array | string = "", fin = true): FramePiece {
  const p = typeof payload === "string" ? enc(payload) : payload;
  return {
    fin,
    rsv: 0,
    opcode,
    length: p.length,
    maskKey: 0,
    headerLength: 6,
    payload: p,
    offset: 0,
    first: true,
    end: true,
  };
}

function closeFrame(code: number, reason: string | Uint8Array = ""): FramePiece {
  const r = typeof reason === "string" ? enc(reason) : reason;
  const p = new Uint8Array(2 + r.length);
  p[0] = code >> 8;
  p[1] = code & 0xff;
  p.set(r, 2);
  return f(8, p);
}

function session(maxMessage = 1024 * 1024): Session {
  return new Session({ maxMessage });
}

/** Every message next() gives, then the outbox. */
function drain(s: Session): { messages: Message[]; out: OutFrame[] } {
  const messages: Message[] = [];
  for (let m = s.next(); m !== null; m = s.next()) messages.push(m);
  return { messages, out: s.takeOutbox() ?? [] };
}

function closeCodeOf(frame: OutFrame): number {
  assert.equal(frame.opcode, 8);
  assert.ok(frame.payload.length >= 2, "close frame has a code");
  return (frame.payload[0] << 8) | frame.payload[1];
}

/** Expects the session to have failed with `code`: one close frame out, nothing delivered. */
function assertFails(s: Session, code: number, messagesBefore = 0): void {
  const { messages, out } = drain(s);
  assert.equal(messages.length, messagesBefore, "messages before the failure");
  const closes = out.filter((o) => o.opcode === 8);
  assert.equal(closes.length, 1, "one close frame");
  assert.equal(closeCodeOf(closes[0]), code);
  assert.equal(s.closeCode, code);
  assert.ok(closes[0].payload.length <= 125, "close payload fits a control frame");
  assert.notEqual(s.state, "OPEN");
}

Deno.test("session: starts OPEN with nothing to do", () => {
  const s = session();
  assert.equal(s.state, "OPEN");
  assert.equal(s.next(), null);
  assert.equal(s.takeOutbox(), null);
  assert.equal(s.closeCode, 1006);
});

Deno.test("session: ping → pong with the same payload", () => {
  const s = session();
  const payload = new Uint8Array(125).map((_, i) => i);
  s.receive([f(9, payload)]);
  const { messages, out } = drain(s);
  assert.equal(messages.length, 0);
  assert.equal(out.length, 1);
  assert.equal(out[0].opcode, 10);
  assert.equal(out[0].fin, true);
  assert.deepEqual(out[0].payload, payload);
  // An empty ping gets an empty pong.
  s.receive([f(9)]);
  const again = drain(s).out;
  assert.equal(again.length, 1);
  assert.equal(again[0].opcode, 10);
  assert.equal(again[0].payload.length, 0);
});

Deno.test("session: a ping between fragments is answered; the message still reassembles", () => {
  const s = session();
  s.receive([f(1, "Hel", false), f(9, "p1"), f(0, "lo, ", false), f(9, "p2"), f(0, "world")]);
  const { messages, out } = drain(s);
  assert.equal(messages.length, 1);
  assert.equal(messages[0].type, "text");
  assert.equal(messages[0].text, "Hello, world");
  assert.deepEqual(out.map((o) => [o.opcode, dec(o.payload)]), [[10, "p1"], [10, "p2"]]);
});

Deno.test("session: an unsolicited pong is ignored", () => {
  const s = session();
  s.receive([f(10, "unasked"), f(1, "after")]);
  const { messages, out } = drain(s);
  assert.deepEqual(messages.map((m) => m.text), ["after"]);
  assert.equal(out.length, 0);
  assert.equal(s.state, "OPEN");
});

Deno.test("session: a pong between fragments is ignored too", () => {
  const s = session();
  s.receive([f(2, new Uint8Array([1]), false), f(10, "x"), f(0, new Uint8Array([2]))]);
  const { messages, out } = drain(s);
  assert.equal(messages.length, 1);
  assert.deepEqual(messages[0].data, new Uint8Array([1, 2]));
  assert.equal(out.length, 0);
});

Deno.test("session: text and binary messages, whole and empty", () => {
  const s = session();
  s.receive([f(1, "héllo"), f(2, new Uint8Array([0, 255])), f(1, ""), f(2)]);
  const { messages } = drain(s);
  assert.deepEqual(messages.map((m) => m.type), ["text", "binary", "text", "binary"]);
  assert.equal(messages[0].text, "héllo");
  assert.deepEqual(messages[1].data, new Uint8Array([0, 255]));
  assert.equal(messages[2].data.length, 0);
  assert.equal(messages[3].data.length, 0);
});

Deno.test("session: reassembles fragments, including frames split into pieces", () => {
  const s = session();
  const part1 = new Uint8Array(1000).map((_, i) => i & 0xff);
  const part2 = new Uint8Array(3000).map((_, i) => (i * 3) & 0xff);
  s.receive(pieces(2, part1, [1, 500], { fin: false }));
  assert.equal(s.next(), null);
  s.receive(pieces(0, part2, [100, 2999]));
  const { messages } = drain(s);
  assert.equal(messages.length, 1);
  assert.equal(messages[0].type, "binary");
  const want = new Uint8Array(4000);
  want.set(part1);
  want.set(part2, 1000);
  assert.deepEqual(messages[0].data, want);
  // Empty fragments are fine; the next message starts afresh.
  s.receive([f(1, "", false), f(0, "", false), f(0, "x"), f(1, "y")]);
  assert.deepEqual(drain(s).messages.map((m) => m.text), ["x", "y"]);
});

Deno.test("session: a single frame split into pieces is one message", () => {
  const s = session();
  const text = enc("日本語テキスト".repeat(50));
  const cuts = [1, 2, 3, 4, 5, 100, 101, 500];
  s.receive(pieces(1, text, cuts));
  const { messages } = drain(s);
  assert.equal(messages.length, 1);
  assert.equal(messages[0].text, "日本語テキスト".repeat(50));
});

Deno.test("session: a continuation with no message started → 1002", () => {
  const s = session();
  s.receive([f(0, "orphan")]);
  assertFails(s, 1002);
});

Deno.test("session: a non-final continuation with no message started → 1002", () => {
  const s = session();
  s.receive([f(1, "done"), f(0, "orphan", false)]);
  assertFails(s, 1002, 1);
});

Deno.test("session: a new data frame while a message is unfinished → 1002", () => {
  for (const op of [1, 2]) {
    const s = session();
    s.receive([f(2, "a", false), f(op, "b")]);
    assertFails(s, 1002);
  }
});

Deno.test("session: fragments summing over maxMessage → 1009", () => {
  const s = session(10);
  s.receive([f(2, new Uint8Array(6), false), f(0, new Uint8Array(6))]);
  assertFails(s, 1009);
});

Deno.test("session: a message of exactly maxMessage is fine; one byte more → 1009", () => {
  const ok = session(10);
  ok.receive([f(2, new Uint8Array(4), false), f(0, new Uint8Array(6))]);
  const { messages } = drain(ok);
  assert.equal(messages[0].data.length, 10);
  const s = session(10);
  s.receive([f(1, "12345", false), f(0, "", false), f(0, "678901")]);
  assertFails(s, 1009);
});

Deno.test("session: a single frame over maxMessage → 1009", () => {
  const s = session(10);
  s.receive([f(1, "01234567890")]);
  assertFails(s, 1009);
});

Deno.test("session: invalid UTF-8 → 1007 as soon as the bad fragment arrives", () => {
  const s = session();
  s.receive([f(1, "ok ", false), f(0, new Uint8Array([0x61, 0xff]), false)]);
  // No final fragment yet: the failure is already decided.
  assertFails(s, 1007);
  // Later frames are ignored.
  s.receive([f(0, "end"), f(1, "more")]);
  assert.deepEqual(drain(s), { messages: [], out: [] });
});

Deno.test("session: a character split across fragments is valid", () => {
  const s = session();
  const euro = enc("€"); // E2 82 AC
  s.receive([f(1, euro.subarray(0, 1), false), f(0, euro.subarray(1, 2), false)]);
  s.receive([f(0, euro.subarray(2))]);
  assert.equal(drain(s).messages[0].text, "€");
});

Deno.test("session: a text message ending inside a character → 1007", () => {
  const s = session();
  s.receive([f(1, "abc", false), f(0, new Uint8Array([0xe2, 0x82]))]);
  assertFails(s, 1007);
  const whole = session();
  whole.receive([f(1, new Uint8Array([0xf0, 0x9f]))]);
  assertFails(whole, 1007);
});

Deno.test("session: invalid UTF-8 in a binary message is fine", () => {
  const s = session();
  s.receive([f(2, new Uint8Array([0xff, 0xfe]), false), f(0, new Uint8Array([0xc0]))]);
  assert.deepEqual(drain(s).messages[0].data, new Uint8Array([0xff, 0xfe, 0xc0]));
});

Deno.test("session: a valid close is echoed byte for byte and the session is CLOSED", () => {
  for (const [code, reason] of [[1000, ""], [1001, "bye"], [4999, "ünïcödé ✓"], [3000, "x"]]) {
    const s = session();
    const frame = closeFrame(code as number, reason as string);
    const sent = frame.payload.slice();
    s.receive([frame]);
    const { messages, out } = drain(s);
    assert.equal(messages.length, 0);
    assert.equal(out.length, 1);
    assert.equal(out[0].opcode, 8);
    assert.deepEqual(out[0].payload, sent, `close ${code} echoed byte for byte`);
    assert.equal(s.state, "CLOSED");
    assert.equal(s.cleanClose, true);
    assert.equal(s.closeCode, code);
    assert.equal(s.closeReason, reason);
  }
});

Deno.test("session: every valid close code is accepted", () => {
  const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014];
  for (const code of [...valid, 3000, 3999, 4000, 4999]) {
    const s = session();
    s.receive([closeFrame(code)]);
    const { out } = drain(s);
    assert.equal(closeCodeOf(out[0]), code, `code ${code}`);
    assert.equal(s.cleanClose, true);
  }
});

Deno.test("session: a 1-byte close payload → 1002", () => {
  const s = session();
  s.receive([f(8, new Uint8Array([0x03]))]);
  assertFails(s, 1002);
  assert.equal(s.state, "CLOSED", "the peer's (bad) close was still its close");
});

Deno.test("session: invalid close codes → 1002", () => {
  const bad = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  for (const code of bad) {
    const s = session();
    s.receive([closeFrame(code, "r")]);
    const { out } = drain(s);
    assert.equal(out.length, 1, `code ${code}`);
    assert.equal(closeCodeOf(out[0]), 1002, `code ${code}`);
    assert.equal(s.closeCode, 1002);
  }
});

Deno.test("session: a close reason that is not UTF-8 → 1007", () => {
  for (const reason of [[0xff], [0x61, 0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
    const s = session();
    s.receive([closeFrame(1000, new Uint8Array(reason))]);
    assertFails(s, 1007);
  }
});

Deno.test("session: an empty close → an empty close back, closeCode 1005", () => {
  const s = session();
  s.receive([f(8)]);
  const { out } = drain(s);
  assert.equal(out.length, 1);
  assert.equal(out[0].opcode, 8);
  assert.equal(out[0].payload.length, 0);
  assert.equal(s.closeCode, 1005);
  assert.equal(s.state, "CLOSED");
  assert.equal(s.cleanClose, true);
});

Deno.test("session: frames after the peer's close are ignored", () => {
  const s = session();
  s.receive([closeFrame(1000), f(1, "late"), f(9, "late ping"), closeFrame(1001)]);
  const { messages, out } = drain(s);
  assert.equal(messages.length, 0);
  assert.equal(out.length, 1);
  assert.equal(closeCodeOf(out[0]), 1000);
});

Deno.test("session: we close first: OPEN → CLOSING → CLOSED", () => {
  const s = session();
  assert.equal(s.state, "OPEN");
  s.close(1001, "going away");
  assert.equal(s.state, "CLOSING");
  const out = s.takeOutbox()!;
  assert.equal(out.length, 1);
  assert.equal(closeCodeOf(out[0]), 1001);
  assert.equal(dec(out[0].payload.subarray(2)), "going away");
  // Sending is refused from now on; a second close is a no-op.
  assert.equal(s.send(Message.text("no")), false);
  assert.equal(s.ping(new Uint8Array(0)), false);
  s.close(1000);
  assert.equal(s.takeOutbox(), null);
  // Data and pings crossing our close are dropped, then the peer's close completes it.
  s.receive([f(1, "crossing"), f(9, "ping"), closeFrame(1001)]);
  const { messages, out: after } = drain(s);
  assert.equal(messages.length, 0);
  assert.equal(after.length, 0, "no second close frame, no pong");
  assert.equal(s.state, "CLOSED");
  assert.equal(s.cleanClose, true);
  assert.equal(s.closeCode, 1001);
});

Deno.test("session: an invalid close after ours still completes the handshake", () => {
  const s = session();
  s.close(1000);
  s.takeOutbox();
  s.receive([f(8, new Uint8Array([1]))]);
  drain(s);
  assert.equal(s.state, "CLOSED");
});

Deno.test("session: abort marks the session CLOSED without a close frame", () => {
  const s = session();
  s.abort();
  assert.equal(s.state, "CLOSED");
  assert.equal(s.cleanClose, false);
  assert.equal(s.closeCode, 1006);
  s.receive([f(1, "x")]);
  assert.deepEqual(drain(s), { messages: [], out: [] });
});

Deno.test("session: a message's echo is queued before a later ping's pong", () => {
  const s = session();
  s.receive([f(1, "first"), f(9, "ping")]);
  const m = s.next();
  assert.equal(m?.text, "first");
  // The ping has not been applied yet: its pong must follow the echo.
  assert.equal(s.send(m!), true);
  assert.equal(s.next(), null);
  const out = s.takeOutbox()!;
  assert.deepEqual(out.map((o) => [o.opcode, dec(o.payload)]), [[1, "first"], [10, "ping"]]);
});

Deno.test("session: ping before a message: pong first, then the echo", () => {
  const s = session();
  s.receive([f(9, "ping"), f(2, "data")]);
  const m = s.next()!;
  s.send(m);
  assert.equal(s.next(), null);
  assert.deepEqual(s.takeOutbox()!.map((o) => o.opcode), [10, 2]);
});

Deno.test("session: echoes, pongs and the close reply leave in arrival order", () => {
  const s = session();
  s.receive([f(1, "a"), f(9, "p1"), f(2, "b"), f(9, "p2"), closeFrame(1000, "bye")]);
  for (let m = s.next(); m !== null; m = s.next()) s.send(m);
  const out = s.takeOutbox()!;
  assert.deepEqual(
    out.map((o) => [o.opcode, dec(o.payload.subarray(o.opcode === 8 ? 2 : 0))]),
    [[1, "a"], [10, "p1"], [2, "b"], [10, "p2"], [8, "bye"]],
  );
  assert.equal(closeCodeOf(out[4]), 1000);
  assert.equal(s.state, "CLOSED");
});

Deno.test("session: a failure after a message lets that message be echoed first", () => {
  const s = session();
  s.receive([f(1, "good"), f(0, "orphan")]);
  const m = s.next()!;
  assert.equal(m.text, "good");
  s.send(m);
  assert.equal(s.next(), null);
  const out = s.takeOutbox()!;
  assert.deepEqual(out.map((o) => o.opcode), [1, 8]);
  assert.equal(closeCodeOf(out[1]), 1002);
});

Deno.test("session: fail() from the decoder closes with its code", () => {
  const s = session();
  s.receive([f(1, "before")]);
  s.fail(new ProtocolError(1009, "frame too big"), { brokenInput: true });
  assert.equal(s.brokenInput, true);
  const { messages, out } = drain(s);
  assert.deepEqual(messages.map((x) => x.text), ["before"]);
  assert.equal(closeCodeOf(out[0]), 1009);
  assert.equal(s.closeReason, "frame too big");
  assert.equal(s.state, "CLOSING");
});

Deno.test("session: outboxBytes counts queued payload bytes", () => {
  const s = session();
  s.send(Message.binary(new Uint8Array(100)));
  s.send(Message.text("abc"));
  assert.equal(s.outboxBytes, 103);
  assert.equal(s.takeOutbox()!.length, 2);
  assert.equal(s.outboxBytes, 0);
});
