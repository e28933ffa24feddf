// Shared helpers of the conformance suite (organised like the Autobahn|Testsuite fuzzing
// client's categories). Every case is a real exchange with a fresh wsecho on a loopback port.

import assert from "node:assert/strict";
import type { Config } from "../../src/config.ts";
import {
  clientFrame,
  closePayload,
  type FrameSpec,
  RawClient,
  type ServerFrame,
} from "../support/raw_client.ts";
import { withServer } from "../support/server.ts";

export { clientFrame, closePayload, RawClient };
export type { FrameSpec, ServerFrame };

/** Opcodes (RFC 6455 §5.2). */
export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

const encoder = new TextEncoder();

/** Settings every case runs with unless it overrides them. */
const BASE: Partial<Config> = { closeTimeout: 1000, pingInterval: 0 };

/** How long a case may wait for the server before its socket is closed under it (a hang). */
const DEFAULT_WATCHDOG_MS = 10_000;
/** The watchdog of fail-fast cases: the answer must come while the client still holds back. */
export const FAIL_FAST_WATCHDOG_MS = 3_000;

export interface CaseOptions {
  /** Server configuration overrides. */
  server?: Partial<Config>;
  /**
   * After this long the client's socket is closed, so that a server that never answers makes
   * the case fail instead of hanging the suite. Not a performance threshold.
   */
  watchdogMs?: number;
}

/** Registers a Deno test that runs `fn` with a client connected to a fresh server. */
export function wsCase(
  name: string,
  fn: (c: RawClient) => Promise<void>,
  opts: CaseOptions = {},
): void {
  Deno.test(name, () => exchange(fn, opts));
}

/** Starts a server, opens a client, runs `fn`, and always closes both. */
export async function exchange(
  fn: (c: RawClient) => Promise<void>,
  opts: CaseOptions = {},
): Promise<void> {
  await withServer({ ...BASE, ...opts.server }, async (port) => {
    const c = await RawClient.open(port);
    c.conn.setNoDelay(true);
    const ms = opts.watchdogMs ?? DEFAULT_WATCHDOG_MS;
    let fired = false;
    const timer = setTimeout(() => {
      fired = true;
      c.close();
    }, ms);
    try {
      await fn(c);
    } catch (err) {
      if (fired) throw new Error(`the server did not answer within ${ms} ms`, { cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
      c.close();
    }
    if (fired) throw new Error(`the server did not answer within ${ms} ms`);
  });
}

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Bytes from a hex string ("ce ba e1", spaces optional). */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Concatenates byte arrays and strings (strings as UTF-8). */
export function cat(...parts: (Uint8Array | string)[]): Uint8Array {
  const bufs = parts.map((p) => typeof p === "string" ? utf8(p) : p);
  const out = new Uint8Array(bufs.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bufs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Deterministic binary bytes (every value occurs). */
export function binaryOfLength(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Valid UTF-8 of exactly `n` bytes mixing 1-, 2-, 3- and 4-byte characters. */
export function textOfLength(n: number): Uint8Array {
  const unit = utf8("aé€😀xyz"); // 1 + 2 + 3 + 4 + 3 = 13 bytes
  const out = new Uint8Array(n);
  let at = 0;
  while (at + unit.length <= n) {
    out.set(unit, at);
    at += unit.length;
  }
  out.fill(0x2a, at); // pad with '*'
  return out;
}

/** Lets the event loop run (so that the server reads what was written so far on its own). */
export function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

/** Writes `bytes` in writes of `size` bytes, letting the server read between them. */
export async function sendInChunks(c: RawClient, bytes: Uint8Array, size: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += size) {
    await c.send(bytes.subarray(at, Math.min(at + size, bytes.length)));
    if (at + size < bytes.length) await pause();
  }
}

/** A data message as the server sent it: reassembled when fragmented; a control frame alone. */
export interface ServerMessage {
  opcode: number;
  payload: Uint8Array;
}

function checkServerFrame(f: ServerFrame): void {
  assert.equal(f.masked, false, "a server frame must not be masked");
  assert.equal(f.rsv, 0, "a server frame must not set RSV bits");
}

/** The next message or control frame from the server; null when TCP ended first. */
export async function nextMessage(c: RawClient): Promise<ServerMessage | null> {
  const f = await c.frame();
  if (f === null) return null;
  checkServerFrame(f);
  if (f.opcode >= 0x8) {
    assert.ok(f.fin, "a control frame must not be fragmented");
    return { opcode: f.opcode, payload: f.payload };
  }
  assert.notEqual(f.opcode, OP.CONT, "a message must not start with a continuation frame");
  if (f.fin) return { opcode: f.opcode, payload: f.payload };
  const parts = [f.payload];
  for (;;) {
    const g = await c.frame();
    assert.ok(g !== null, "TCP ended inside a fragmented message");
    checkServerFrame(g);
    assert.equal(g.opcode, OP.CONT, "expected a continuation frame");
    parts.push(g.payload);
    if (g.fin) return { opcode: f.opcode, payload: cat(...parts) };
  }
}

/** Asserts two byte arrays are equal, reporting the first difference (not a huge diff). */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "payload"): void {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i === n && actual.length === expected.length) return;
  const show = (b: Uint8Array) =>
    [...b.subarray(Math.max(0, i - 4), i + 8)].map((x) => x.toString(16).padStart(2, "0"))
      .join(" ");
  assert.fail(
    `${what}: ${actual.length} bytes, expected ${expected.length}; first difference at byte ` +
      `${i}: got [${show(actual)}], expected [${show(expected)}] (from byte ${Math.max(0, i - 4)})`,
  );
}

/** Reads the next message and asserts it is `opcode` with exactly `payload`. */
export async function expectMessage(
  c: RawClient,
  opcode: number,
  payload: Uint8Array | string,
): Promise<void> {
  const m = await nextMessage(c);
  assert.ok(m !== null, `expected opcode ${opcode}, but the server ended TCP`);
  assert.equal(m.opcode, opcode, `expected opcode ${opcode}, got ${m.opcode}`);
  assertBytes(m.payload, typeof payload === "string" ? utf8(payload) : payload);
}

/**
 * Reads until the server's close frame, answers it and asserts its code, that nothing came
 * before it, and that the server then ended TCP.
 */
export async function expectClose(c: RawClient, code: number): Promise<void> {
  const r = await c.closeCode();
  assert.deepEqual(
    r.before.map((f) => `opcode ${f.opcode} (${f.payload.length} bytes)`),
    [],
    "unexpected frames before the close frame",
  );
  assert.equal(r.code, code, `expected close ${code}, got ${r.code} "${r.reason}"`);
  assert.ok(r.eof, "the server did not end TCP after the closing handshake");
}

/** Reads the next frame and asserts it is a close frame with `code`; returns its payload. */
export async function expectCloseFrame(c: RawClient, code: number): Promise<Uint8Array> {
  const f = await c.frame();
  assert.ok(f !== null, `expected close ${code}, but the server ended TCP`);
  checkServerFrame(f);
  assert.equal(f.opcode, OP.CLOSE, `expected a close frame, got opcode ${f.opcode}`);
  const got = f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
  assert.equal(got, code, `expected close ${code}, got ${got}`);
  return f.payload;
}

/** Asserts the server ends TCP with nothing more sent. */
export async function expectEof(c: RawClient): Promise<void> {
  const f = await c.frame();
  assert.equal(
    f === null ? null : `opcode ${f.opcode} (${f.payload.length} bytes)`,
    null,
    "expected the server to end TCP",
  );
}

/** Client-initiated normal close: 1000 goes out, comes back byte for byte, then TCP ends. */
export async function closeNormally(c: RawClient): Promise<void> {
  const p = closePayload(1000);
  await c.sendFrame({ opcode: OP.CLOSE, payload: p });
  const m = await nextMessage(c);
  assert.ok(m !== null, "expected the close reply, but the server ended TCP");
  assert.equal(m.opcode, OP.CLOSE, `expected the close reply, got opcode ${m.opcode}`);
  assertBytes(m.payload, p, "close payload");
  await expectEof(c);
}

/** One client frame's bytes (masked). */
export function frame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  more: Partial<FrameSpec> = {},
): Uint8Array {
  return clientFrame({ opcode, payload, ...more });
}

/** Frames of one message cut into pieces of `size` bytes (at least one frame, even if empty). */
export function fragments(opcode: number, payload: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  do {
    const end = Math.min(at + size, payload.length);
    out.push(clientFrame({
      opcode: at === 0 ? opcode : OP.CONT,
      fin: end === payload.length,
      payload: payload.subarray(at, end),
    }));
    at = end;
  } while (at < payload.length);
  return out;
}
