// RequestHeadParser (src/http/request_head.ts): incremental parsing at every split point, field
// handling, and every refusal with its status, raised as soon as the limit is crossed.

import assert from "node:assert/strict";
import {
  DEFAULT_HEAD_LIMITS,
  header,
  headerTokens,
  type HeadLimits,
  HttpError,
  MAX_METHOD_BYTES,
  type RequestHead,
  RequestHeadParser,
} from "../../src/http/request_head.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

const REQUEST = "GET /chat?x=1 HTTP/1.1\r\n" +
  "Host: example.com:8080\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: keep-alive, Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n" +
  "X-Empty:\r\n" +
  "X-Spaces: \t padded value \t \r\n" +
  "Accept: a\r\n" +
  "accept: b\r\n" +
  "\r\n";

function parseWhole(text: string | Uint8Array, limits?: HeadLimits): RequestHead {
  const p = new RequestHeadParser(limits);
  const head = p.push(typeof text === "string" ? enc(text) : text);
  assert.ok(head !== null, "head complete");
  return head;
}

function assertSameHead(a: RequestHead, b: RequestHead, where: string): void {
  assert.equal(a.method, b.method, where);
  assert.equal(a.target, b.target, where);
  assert.equal(a.version, b.version, where);
  assert.deepEqual([...a.headers], [...b.headers], where);
}

/** Feeds pieces until the head is complete; returns it and the bytes that followed it. */
function feed(
  pieces: Uint8Array[],
  limits?: HeadLimits,
): { head: RequestHead | null; after: Uint8Array } {
  const p = new RequestHeadParser(limits);
  for (let i = 0; i < pieces.length; i++) {
    const head = p.push(pieces[i]);
    if (head !== null) {
      const rest = [p.rest, ...pieces.slice(i + 1)];
      const after = new Uint8Array(rest.reduce((n, r) => n + r.length, 0));
      let at = 0;
      for (const r of rest) {
        after.set(r, at);
        at += r.length;
      }
      return { head, after };
    }
  }
  return { head: null, after: new Uint8Array(0) };
}

/** The HttpError that parsing `pieces` throws (fails if none is thrown). */
function refusal(pieces: (Uint8Array | string)[], limits?: HeadLimits): HttpError {
  const p = new RequestHeadParser(limits);
  try {
    for (const piece of pieces) {
      const head = p.push(typeof piece === "string" ? latin1(piece) : piece);
      if (head !== null) assert.fail(`parsed, but expected a refusal: ${JSON.stringify(head)}`);
    }
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  assert.fail("no refusal (the parser is still waiting for more)");
}

Deno.test("request head: parses the request line and fields", () => {
  const head = parseWhole(REQUEST);
  assert.equal(head.method, "GET");
  assert.equal(head.target, "/chat?x=1");
  assert.equal(head.version, "HTTP/1.1");
  assert.deepEqual(head.headers.get("host"), ["example.com:8080"]);
  assert.deepEqual(head.headers.get("x-empty"), [""]);
  assert.deepEqual(head.headers.get("x-spaces"), ["padded value"]);
  assert.deepEqual(head.headers.get("accept"), ["a", "b"], "repeated fields keep every value");
  assert.equal(header(head, "accept"), "a, b");
  assert.equal(header(head, "missing"), undefined);
});

Deno.test("request head: the same head at every split point", () => {
  const bytes = enc(REQUEST);
  const whole = parseWhole(REQUEST);
  for (let split = 0; split <= bytes.length; split++) {
    const { head, after } = feed([bytes.subarray(0, split), bytes.subarray(split)]);
    assert.ok(head !== null, `split ${split}`);
    assertSameHead(head, whole, `split ${split}`);
    assert.equal(after.length, 0, `split ${split}`);
  }
});

Deno.test("request head: the same head at every pair of split points", () => {
  const bytes = enc(REQUEST);
  const whole = parseWhole(REQUEST);
  for (let a = 0; a <= bytes.length; a += 3) {
    for (let b = a; b <= bytes.length; b++) {
      const { head } = feed([bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)]);
      assert.ok(head !== null, `splits ${a},${b}`);
      assertSameHead(head, whole, `splits ${a},${b}`);
    }
  }
});

Deno.test("request head: the same head one byte at a time", () => {
  const bytes = enc(REQUEST);
  const p = new RequestHeadParser();
  let head: RequestHead | null = null;
  for (let i = 0; i < bytes.length; i++) {
    head = p.push(bytes.subarray(i, i + 1));
    if (i < bytes.length - 1) assert.equal(head, null, `complete early at byte ${i}`);
  }
  assert.ok(head !== null);
  assertSameHead(head, parseWhole(REQUEST), "byte by byte");
  assert.equal(p.rest.length, 0);
});

Deno.test("request head: bytes after the head are kept in rest, at every split point", () => {
  const trailer = new Uint8Array([0x81, 0x85, 1, 2, 3, 4, 0x0d, 0x0a, 0x0d, 0x0a, 0xff]);
  const bytes = new Uint8Array([...enc(REQUEST), ...trailer]);
  for (let split = 0; split <= bytes.length; split++) {
    const { head, after } = feed([bytes.subarray(0, split), bytes.subarray(split)]);
    assert.ok(head !== null, `split ${split}`);
    assert.deepEqual(after, trailer, `split ${split}`);
  }
  // One chunk: rest is exactly the trailer.
  const p = new RequestHeadParser();
  assert.ok(p.push(bytes) !== null);
  assert.deepEqual(p.rest, trailer);
});

Deno.test("request head: header names are case-insensitive", () => {
  const head = parseWhole(
    "GET / HTTP/1.1\r\nHOST: a\r\nsEc-WeBsOcKeT-kEy: k\r\nUpGrAdE: WebSocket\r\n\r\n",
  );
  assert.deepEqual(head.headers.get("host"), ["a"]);
  assert.equal(header(head, "sec-websocket-key"), "k");
  assert.deepEqual(headerTokens(head, "upgrade"), ["websocket"]);
  assert.deepEqual(headerTokens(head, "upgrade", { lowerCase: false }), ["WebSocket"]);
});

Deno.test("request head: Connection tokens in one or several fields", () => {
  const head = parseWhole(
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nconnection: ,  close ,,\r\n\r\n",
  );
  assert.deepEqual(headerTokens(head, "connection"), ["keep-alive", "upgrade", "close"]);
  assert.deepEqual(headerTokens(head, "absent"), []);
});

Deno.test("request head: leading empty lines are ignored", () => {
  for (const lead of ["\r\n", "\r\n\r\n", "\n", "\n\r\n\n"]) {
    const head = parseWhole(lead + "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(head.method, "GET", JSON.stringify(lead));
    assert.deepEqual(head.headers.get("host"), ["x"]);
  }
});

Deno.test("request head: LF-only line endings", () => {
  const head = parseWhole("GET /a HTTP/1.1\nHost: x\nConnection: Upgrade\n\n");
  assert.equal(head.target, "/a");
  assert.deepEqual(head.headers.get("host"), ["x"]);
  assert.deepEqual(head.headers.get("connection"), ["Upgrade"]);
  // Mixed CRLF and LF.
  const mixed = parseWhole("GET / HTTP/1.1\r\nHost: y\n\r\n");
  assert.deepEqual(mixed.headers.get("host"), ["y"]);
});

Deno.test("request head: HTTP/1.0, other methods, obs-text and tabs in values", () => {
  const head = parseWhole(latin1("POST /x HTTP/1.0\r\nX-Latin: caf\xe9\tok\r\n\r\n"));
  assert.equal(head.method, "POST");
  assert.equal(head.version, "HTTP/1.0");
  assert.equal(header(head, "x-latin"), "caf\xe9\tok");
});

Deno.test("request head: long whitespace runs are trimmed around a value and kept inside", () => {
  const run = " \t".repeat(900); // 3 runs in one value, within the 8 KiB head
  const head = parseWhole(
    `GET / HTTP/1.1\r\nHost: x\r\nX-A:${run}a${run}b${run}\r\nX-B:${run}\r\n\r\n`,
  );
  assert.deepEqual(head.headers.get("x-a"), [`a${run}b`]);
  assert.deepEqual(head.headers.get("x-b"), [""]);
  // Long values, ASCII and not, come back byte for byte (one character per byte).
  const ascii = "v".repeat(3000);
  const latin = "\x80\x9f\xe9\xff".repeat(1000);
  const long = parseWhole(
    latin1(`GET / HTTP/1.1\r\nHost: x\r\nA: ${ascii}\r\nB: ${latin}\r\n\r\n`),
  );
  assert.deepEqual([header(long, "a"), header(long, "b")], [ascii, latin]);
});

Deno.test("request head: nothing is returned until the blank line", () => {
  const p = new RequestHeadParser();
  assert.equal(p.push(enc("GET / HTTP/1.1\r\nHost: x\r\n")), null);
  assert.equal(p.push(enc("\r")), null);
  assert.ok(p.push(enc("\n")) !== null);
});

// --- 431: head too large -------------------------------------------------------------------

const SMALL: HeadLimits = { maxHeadBytes: 256, maxHeaders: 5, maxTargetBytes: 64 };

Deno.test("request head: a head of exactly maxHeadBytes is accepted", () => {
  const start = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
  const pad = "a".repeat(SMALL.maxHeadBytes - start.length - 4);
  const text = start + pad + "\r\n\r\n";
  assert.equal(text.length, SMALL.maxHeadBytes);
  assert.equal(parseWhole(text, SMALL).headers.get("x-pad")![0], pad);
});

Deno.test("request head: 431 as soon as the head passes maxHeadBytes (one chunk, no end)", () => {
  const start = "GET / HTTP/1.1\r\nX-Pad: ";
  // One byte over the limit, and no blank line anywhere.
  const text = start + "a".repeat(SMALL.maxHeadBytes - start.length + 1);
  const err = refusal([text], SMALL);
  assert.equal(err.status, 431);
});

Deno.test("request head: 431 at the first byte past maxHeadBytes, fed byte by byte", () => {
  const lines = "GET / HTTP/1.1\r\n" + "X-A: 1234567890\r\n".repeat(40);
  const bytes = enc(lines);
  const p = new RequestHeadParser({ ...SMALL, maxHeaders: 100 });
  let failedAt = -1;
  for (let i = 0; i < bytes.length; i++) {
    try {
      assert.equal(p.push(bytes.subarray(i, i + 1)), null);
    } catch (err) {
      assert.ok(err instanceof HttpError);
      assert.equal(err.status, 431);
      failedAt = i;
      break;
    }
  }
  assert.equal(failedAt, SMALL.maxHeadBytes, "refused at byte maxHeadBytes + 1");
});

Deno.test("request head: 431 with the default 8 KiB limit, before the rest is sent", () => {
  const text = "GET / HTTP/1.1\r\nHost: x\r\n" + "X-Filler: ".padEnd(98, "z") + "\r\n";
  const big = text + ("X-Filler: ".padEnd(98, "z") + "\r\n").repeat(90); // > 9 KiB, no end
  assert.ok(big.length > DEFAULT_HEAD_LIMITS.maxHeadBytes);
  assert.equal(refusal([big]).status, 431);
  // In 1 KiB pieces: refused by the piece that crosses 8 KiB.
  const bytes = enc(big);
  const p = new RequestHeadParser();
  let crossed = -1;
  try {
    for (let at = 0; at < bytes.length; at += 1024) {
      crossed = at;
      p.push(bytes.subarray(at, at + 1024));
    }
    assert.fail("no refusal");
  } catch (err) {
    assert.ok(err instanceof HttpError);
    assert.equal(err.status, 431);
  }
  assert.equal(crossed, 8 * 1024, "the piece holding byte 8193 is the one refused");
});

Deno.test("request head: exactly maxHeaders fields are accepted; one more → 431 at once", () => {
  const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join("");
  const ok = parseWhole(
    "GET / HTTP/1.1\r\nHost: x\r\n" + fields(SMALL.maxHeaders - 1) + "\r\n",
    SMALL,
  );
  assert.equal(ok.headers.size, SMALL.maxHeaders);
  // No blank line: the refusal does not wait for the end of the head.
  const err = refusal(["GET / HTTP/1.1\r\n" + fields(SMALL.maxHeaders + 1)], SMALL);
  assert.equal(err.status, 431);
  // Repeats of one field count too.
  const rep = refusal(["GET / HTTP/1.1\r\n" + "A: 1\r\n".repeat(SMALL.maxHeaders + 1)], SMALL);
  assert.equal(rep.status, 431);
});

Deno.test("request head: 431 for more than the default 100 fields", () => {
  const text = "GET / HTTP/1.1\r\n" + "A: b\r\n".repeat(101);
  assert.equal(refusal([text]).status, 431);
});

// --- 414: target too long ------------------------------------------------------------------

Deno.test("request head: a target of exactly maxTargetBytes is accepted; one more → 414", () => {
  const target = "/" + "t".repeat(SMALL.maxTargetBytes - 1);
  assert.equal(parseWhole(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, SMALL).target, target);
  const err = refusal([`GET ${target}t HTTP/1.1\r\n\r\n`], SMALL);
  assert.equal(err.status, 414);
});

Deno.test("request head: 414 before the request line ends", () => {
  // No LF at all: the target alone is too long for any acceptable request line.
  const line = "GET /" + "t".repeat(SMALL.maxTargetBytes + 40);
  assert.equal(refusal([line], SMALL).status, 414);
  // The same, byte by byte.
  const bytes = enc(line);
  assert.equal(refusal([...bytes].map((_, i) => bytes.subarray(i, i + 1)), SMALL).status, 414);
  // And with the default limits (4 KiB targets).
  assert.equal(refusal(["GET /" + "u".repeat(5000)]).status, 414);
});

Deno.test("request head: 414 with the default limit, whole line", () => {
  const target = "/" + "v".repeat(DEFAULT_HEAD_LIMITS.maxTargetBytes);
  assert.equal(refusal([`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`]).status, 414);
});

// --- 400 and 505 ---------------------------------------------------------------------------

const BAD_REQUESTS: [string, string][] = [
  ["obs-fold (space)", "GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n"],
  ["obs-fold (tab)", "GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n"],
  ["field line starting with a space", "GET / HTTP/1.1\r\n Host: x\r\n\r\n"],
  ["space in the name", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"],
  ["space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n"],
  ["tab before the colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n"],
  ["separator in the name", "GET / HTTP/1.1\r\nX(y): x\r\n\r\n"],
  ["non-ASCII in the name", "GET / HTTP/1.1\r\nX-\xe9: x\r\n\r\n"],
  ["empty name", "GET / HTTP/1.1\r\n: x\r\n\r\n"],
  ["no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n"],
  ["NUL in a value", "GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n"],
  ["control char in a value", "GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n"],
  ["ESC in a value", "GET / HTTP/1.1\r\nX-A: a\x1bb\r\n\r\n"],
  ["DEL in a value", "GET / HTTP/1.1\r\nX-A: a\x7fb\r\n\r\n"],
  ["bare CR in a value", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n"],
  ["CR CR LF line end", "GET / HTTP/1.1\r\nX-A: ab\r\r\n\r\n"],
  ["request line with two parts", "GET /\r\n\r\n"],
  ["request line with one part", "GET\r\n\r\n"],
  ["request line with four parts", "GET / HTTP/1.1 extra\r\n\r\n"],
  ["double space in the request line", "GET  / HTTP/1.1\r\n\r\n"],
  ["tab as separator", "GET\t/\tHTTP/1.1\r\n\r\n"],
  ["leading space in the request line", " GET / HTTP/1.1\r\n\r\n"],
  ["trailing space in the request line", "GET / HTTP/1.1 \r\n\r\n"],
  ["bad method character", "G@T / HTTP/1.1\r\n\r\n"],
  ["control char in the target", "GET /a\x01b HTTP/1.1\r\n\r\n"],
  ["DEL in the target", "GET /a\x7f HTTP/1.1\r\n\r\n"],
  ["lower-case version", "GET / http/1.1\r\n\r\n"],
  ["malformed version", "GET / HTTP/1\r\n\r\n"],
  ["version with two digits", "GET / HTTP/1.11\r\n\r\n"],
  ["garbage version", "GET / FOO\r\n\r\n"],
];

for (const [name, text] of BAD_REQUESTS) {
  Deno.test(`request head: 400 for ${name}`, () => {
    assert.equal(refusal([text]).status, 400);
    // The same refusal when the bytes come one at a time.
    const bytes = latin1(text);
    assert.equal(refusal([...bytes].map((_, i) => bytes.subarray(i, i + 1))).status, 400);
  });
}

Deno.test("request head: 505 for HTTP/2.0 and other well-formed unsupported versions", () => {
  for (const v of ["HTTP/2.0", "HTTP/3.0", "HTTP/0.9", "HTTP/1.2"]) {
    assert.equal(refusal([`GET / ${v}\r\nHost: x\r\n\r\n`]).status, 505, v);
  }
});

Deno.test("request head: HttpError carries its status and a message", () => {
  const err = refusal(["GET / HTTP/2.0\r\n"]);
  assert.equal(err.name, "HttpError");
  assert.equal(err.status, 505);
  assert.ok(err.message.length > 0);
});

Deno.test("request head: the request line is judged when its LF arrives, not at the end", () => {
  // No blank line: a bad request line is refused without waiting for the fields.
  assert.equal(refusal(["GET / HTTP/2.0\r\n"]).status, 505);
  assert.equal(refusal(["BAD LINE\r\n"]).status, 400);
  assert.equal(refusal(["GET / HTTP/1.1\r\nBad Name: x\r\n"]).status, 400);
});

// --- RFC 9110 §7.2 / RFC 9112 §3.2: Host ---------------------------------------------------

/** `text` refused the same way whole, byte by byte and cut at every point. */
function refusedEverywhere(text: string, limits?: HeadLimits): HttpError {
  const bytes = latin1(text);
  const whole = refusal([bytes], limits);
  const where = JSON.stringify(text.length > 80 ? text.slice(0, 80) + "…" : text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const err = refusal([bytes.subarray(0, cut), bytes.subarray(cut)], limits);
    assert.deepEqual([err.status, err.message], [whole.status, whole.message], `${where} @${cut}`);
  }
  const one = refusal([...bytes].map((_, i) => bytes.subarray(i, i + 1)), limits);
  assert.deepEqual([one.status, one.message], [whole.status, whole.message], `${where} bytewise`);
  return whole;
}

const withHost = (host: string, version = "HTTP/1.1") =>
  `GET / ${version}\r\nHost: ${host}\r\nX-After: 1\r\n\r\n`;

Deno.test("request head: an HTTP/1.1 request without Host → 400; HTTP/1.0 may omit it", () => {
  const err = refusedEverywhere("GET / HTTP/1.1\r\nX-A: 1\r\n\r\n");
  assert.deepEqual([err.status, err.message], [400, "missing Host header"]);
  assert.equal(refusedEverywhere("GET /healthz HTTP/1.1\r\n\r\n").status, 400);
  assert.equal(parseWhole("GET / HTTP/1.0\r\nX-A: 1\r\n\r\n").headers.has("host"), false);
});

Deno.test("request head: two Host fields → 400, as soon as the second arrives", () => {
  for (const version of ["HTTP/1.1", "HTTP/1.0"]) {
    const start = `GET / ${version}\r\nHost: a.example\r\nX-A: 1\r\nhost: a.example\r\n`;
    const err = refusedEverywhere(start); // no blank line: refused without waiting for it
    assert.deepEqual([err.status, err.message], [400, "more than one Host header"], version);
  }
});

const GOOD_HOSTS = [
  "example.com",
  "example.com:8080",
  "EXAMPLE.com:0",
  "localhost",
  "127.0.0.1",
  "127.0.0.1:80",
  "999.1.1.1", // not an IPv4 address, but a valid reg-name (RFC 3986 §3.2.2)
  "xn--bcher-kva.example",
  "a%2Db.example",
  "sub-delims!$&'()*+,;=.example",
  "host:", // port = *DIGIT
  "[::1]",
  "[::1]:8080",
  "[::]",
  "[2001:db8::7]",
  "[1:2:3:4:5:6:7:8]",
  "[1::8]",
  "[::ffff:192.0.2.1]",
  "[1:2:3:4:5:6:1.2.3.4]",
  "[v1.fe80::a+en1]",
];

const BAD_HOSTS = [
  "user@example.com",
  "user:pw@example.com:80",
  "exa mple.com",
  "exa\tmple.com",
  "example.com:http",
  "example.com:80a",
  "example.com:80:81",
  ":80",
  "example.com/path",
  "example.com?q",
  "example.com#f",
  "a%2",
  "a%zz.example",
  "caf\xe9.example",
  "[::1",
  "[::1]x",
  "[::1]:8a",
  "[]",
  "[1.2.3.4]",
  "[1:2:3:4:5:6:7:8:9]",
  "[1:2:3:4::5:6:7:8]",
  "[1::2::3]",
  "[:::]",
  "[12345::]",
  "[::g]",
  "[1.2.3.4::]",
  "[::256.0.0.1]",
  "[::1.2.3.04]",
  "[v.x]",
  "[fe80::1%25eth0]", // zone IDs (RFC 6874) are not part of RFC 9110's Host
];

Deno.test("request head: valid Host values are accepted (HTTP/1.1 and 1.0)", () => {
  for (const host of GOOD_HOSTS) {
    for (const version of ["HTTP/1.1", "HTTP/1.0"]) {
      assert.deepEqual(parseWhole(latin1(withHost(host, version))).headers.get("host"), [host]);
    }
  }
  // Optional whitespace around the value is not part of it.
  assert.deepEqual(parseWhole("GET / HTTP/1.1\r\nHost: \t x:1 \t\r\n\r\n").headers.get("host"), [
    "x:1",
  ]);
});

Deno.test("request head: invalid Host values → 400 (HTTP/1.1 and 1.0)", () => {
  for (const host of BAD_HOSTS) {
    for (const version of ["HTTP/1.1", "HTTP/1.0"]) {
      const err = refusal([withHost(host, version)]);
      assert.deepEqual([err.status, err.message], [400, "invalid Host header"], host);
    }
  }
});

Deno.test("request head: an empty Host → 400 for HTTP/1.1, accepted for HTTP/1.0", () => {
  assert.equal(refusedEverywhere("GET / HTTP/1.1\r\nHost:\r\n\r\n").message, "invalid Host header");
  assert.equal(refusal(["GET / HTTP/1.1\r\nHost:  \t \r\n\r\n"]).status, 400);
  assert.deepEqual(parseWhole("GET / HTTP/1.0\r\nHost: \r\n\r\n").headers.get("host"), [""]);
});

// --- RFC 9112 §3.2: request-target ---------------------------------------------------------

const GOOD_TARGETS = [
  "/",
  "/a/b?c=d&e",
  "/?",
  "/a?b?c/d",
  "/%41%7e%7E",
  '/a|b{c}[d]^e"', // visible ASCII not in the RFC 3986 grammar; common servers take it too
  "http://example.com/x",
  "HTTPS://example.com",
  "http://example.com?q",
  "ws://example.com:8080/chat?x=1",
  "wss://[::1]:443/",
];

Deno.test("request head: origin-form and absolute-form targets are accepted as sent", () => {
  for (const target of GOOD_TARGETS) {
    assert.equal(parseWhole(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`).target, target);
  }
});

const BAD_TARGETS: [string, string, string][] = [
  ["asterisk-form", "*", "asterisk-form request-target is not served"],
  ["authority-form", "example.com:443", "authority-form request-target is only for CONNECT"],
  ["authority-form, IPv6", "[::1]:443", "authority-form request-target is only for CONNECT"],
  ["a bare name", "example.com", "malformed request-target"],
  ["a relative path", "a/b", "malformed request-target"],
  ["another scheme", "ftp://example.com/", "unsupported scheme in request-target"],
  ["a URI without //", "mailto:a@example.com", "malformed request-target"],
  ["an empty authority", "http:///x", "malformed authority in request-target"],
  ["no authority at all", "ws://", "malformed authority in request-target"],
  ["userinfo", "http://user@example.com/", "malformed authority in request-target"],
  ["a bad port", "http://example.com:8o/", "malformed authority in request-target"],
  ["a fragment", "/a#frag", "fragment in request-target"],
  ["an empty fragment", "/#", "fragment in request-target"],
  ["a fragment in absolute-form", "http://x/#f", "fragment in request-target"],
  ["% at the end", "/a%", "malformed percent-encoding in request-target"],
  ["% and one digit", "/a%4", "malformed percent-encoding in request-target"],
  ["% and a non-hex digit", "/a%4g?x", "malformed percent-encoding in request-target"],
  ["%%", "/a%%41", "malformed percent-encoding in request-target"],
  ["a non-ASCII byte", "/caf\xe9", "malformed request-target"],
  ["a NUL byte", "/a\x00b", "malformed request-target"],
  ["an ESC byte", "/\x1b[0m", "malformed request-target"],
  ["DEL", "/a\x7f", "malformed request-target"],
  ["a byte 0xff", "/\xff", "malformed request-target"],
];

for (const [name, target, message] of BAD_TARGETS) {
  Deno.test(`request head: 400 for a target with ${name}, at every split`, () => {
    const err = refusedEverywhere(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.deepEqual([err.status, err.message], [400, message]);
  });
}

// --- RFC 9112 §3: method -------------------------------------------------------------------

Deno.test("request head: methods up to MAX_METHOD_BYTES are accepted; longer → 501", () => {
  assert.equal(MAX_METHOD_BYTES, 20);
  for (const method of ["GET", "UPDATEREDIRECTREF", "M".repeat(MAX_METHOD_BYTES), "x-y!~|"]) {
    assert.equal(parseWhole(`${method} / HTTP/1.1\r\nHost: x\r\n\r\n`).method, method);
  }
  const err = refusedEverywhere(
    `${"M".repeat(MAX_METHOD_BYTES + 1)} / HTTP/1.1\r\nHost: x\r\n\r\n`,
  );
  assert.deepEqual([err.status, err.message], [501, "method too long"]);
  // Refused at its 21st byte, without waiting for the rest of the line.
  assert.equal(refusal(["M".repeat(MAX_METHOD_BYTES + 1)]).status, 501);
});

Deno.test("request head: a 4,201-byte method gets one answer whatever the reads", () => {
  const method = "M".repeat(4201);
  const text = `${method} / HTTP/1.1\r\nHost: x\r\n\r\n`;
  const whole = refusal([text]);
  const afterMethod = refusal([method, text.slice(method.length)]);
  const afterSpace = refusal([method + " ", text.slice(method.length + 1)]);
  for (const err of [afterMethod, afterSpace]) {
    assert.deepEqual([err.status, err.message], [whole.status, whole.message]);
  }
  assert.equal(whole.status, 501);
  // The same with a method of invalid characters: the first bad byte decides.
  const bad = "G".repeat(10) + "@" + "M".repeat(4190);
  assert.deepEqual(
    [refusal([bad + " / HTTP/1.1\r\n\r\n"]).status, refusal([bad]).status],
    [400, 400],
  );
});

Deno.test("request head: the target's length is judged before its bytes, at every split", () => {
  // A long target with a bad byte past the limit: 414 whatever the reads.
  const target = "/" + "t".repeat(SMALL.maxTargetBytes) + "#";
  const err = refusedEverywhere(`GET ${target} HTTP/1.1\r\n\r\n`, SMALL);
  assert.deepEqual([err.status, err.message], [414, "request-target too long"]);
  // A bad byte within the limit comes first.
  const early = "/#" + "t".repeat(SMALL.maxTargetBytes);
  assert.equal(refusedEverywhere(`GET ${early} HTTP/1.1\r\n\r\n`, SMALL).status, 400);
});

Deno.test("request head: a refused parser stays refused", () => {
  const p = new RequestHeadParser();
  assert.throws(() => p.push(enc("GET /# HTTP/1.1\r\n")), HttpError);
  assert.throws(() => p.push(enc("Host: x\r\n\r\n")), /fragment in request-target/);
});
