// The opening handshake: Sec-WebSocket-Accept (src/protocol/handshake.ts), and checkUpgrade
// and acceptUpgrade (src/http/upgrade.ts) against RFC 6455 §4.2.1 with the status each refusal
// gets.

import assert from "node:assert/strict";
import { HttpError, type RequestHead, RequestHeadParser } from "../../src/http/request_head.ts";
import { encodeResponse } from "../../src/http/response.ts";
import { acceptKey, WEBSOCKET_GUID } from "../../src/protocol/handshake.ts";
import {
  acceptUpgrade,
  checkUpgrade,
  isUpgradeRequest,
  originAllowed,
  selectProtocol,
  switchingProtocols,
} from "../../src/http/upgrade.ts";

const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** Parses a request built from the valid upgrade headers, with fields replaced or removed. */
function request(
  fields: Record<string, string | string[] | null> = {},
  requestLine = "GET /chat HTTP/1.1",
): RequestHead {
  const all: Record<string, string | string[] | null> = {
    Host: "server.example.com",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": RFC_KEY,
    "Sec-WebSocket-Version": "13",
    ...fields,
  };
  let text = requestLine + "\r\n";
  for (const [name, value] of Object.entries(all)) {
    if (value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) text += `${name}: ${v}\r\n`;
  }
  const head = new RequestHeadParser().push(new TextEncoder().encode(text + "\r\n"));
  assert.ok(head !== null);
  return head;
}

function refused(head: RequestHead): { status: number; headers: Record<string, string> } {
  const check = checkUpgrade(head);
  assert.equal(check.ok, false, "expected a refusal");
  if (check.ok) throw new Error("unreachable");
  return { status: check.response.status, headers: check.response.headers ?? {} };
}

Deno.test("handshake: the RFC 6455 §1.3 example key gives its accept value", async () => {
  assert.equal(WEBSOCKET_GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  assert.equal(await acceptKey(RFC_KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("handshake: accept values of other keys are base64 SHA-1 digests", async () => {
  // Computed independently: SHA-1 over key + GUID, via crypto.subtle and a manual base64.
  for (const key of ["AAAAAAAAAAAAAAAAAAAAAA==", "x3JJHMbDL1EzLkh9GBhXDw=="]) {
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + WEBSOCKET_GUID)),
    );
    const manual = btoa(String.fromCharCode(...digest));
    assert.equal(await acceptKey(key), manual);
  }
  assert.equal(await acceptKey("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
});

Deno.test("handshake: a valid request is accepted with its key and offered protocols", () => {
  const check = checkUpgrade(request({ "Sec-WebSocket-Protocol": ["chat, superchat", "v2"] }));
  assert.equal(check.ok, true);
  if (!check.ok) return;
  assert.equal(check.key, RFC_KEY);
  assert.deepEqual(check.protocols, ["chat", "superchat", "v2"]);
  assert.deepEqual((checkUpgrade(request()) as { protocols: string[] }).protocols, []);
});

Deno.test("handshake: header case and Connection token lists are accepted", () => {
  const variants: Record<string, string | string[]>[] = [
    { Connection: "keep-alive, Upgrade" },
    { Connection: "upgrade" },
    { Connection: ["keep-alive", "UPGRADE"] },
    { Upgrade: "WebSocket" },
    { Upgrade: "foo/1, websocket" },
  ];
  for (const fields of variants) {
    const head = request(fields);
    assert.equal(isUpgradeRequest(head), true, JSON.stringify(fields));
    assert.equal(checkUpgrade(head).ok, true, JSON.stringify(fields));
  }
});

Deno.test("handshake: isUpgradeRequest needs Upgrade: websocket", () => {
  assert.equal(isUpgradeRequest(request({ Upgrade: null })), false);
  assert.equal(isUpgradeRequest(request({ Upgrade: "h2c" })), false);
});

/** A valid head with its Host values replaced (none: removed), which the parser would refuse. */
function withHosts(hosts: string[]): RequestHead {
  const head = request();
  if (hosts.length === 0) head.headers.delete("host");
  else head.headers.set("host", hosts);
  return head;
}

/** The status the request-head parser refuses `fields` with. */
function parserStatus(fields: Record<string, string | string[] | null>): number {
  try {
    request(fields);
  } catch (err) {
    if (err instanceof HttpError) return err.status;
    throw err;
  }
  assert.fail("the parser accepted the head");
}

Deno.test("handshake: missing Host → 400 (from the parser, and from checkUpgrade too)", () => {
  assert.equal(parserStatus({ Host: null }), 400);
  assert.equal(refused(withHosts([])).status, 400);
});

Deno.test("handshake: duplicate Host → 400 (from the parser, and from checkUpgrade too)", () => {
  assert.equal(parserStatus({ Host: ["a.example", "b.example"] }), 400);
  assert.equal(refused(withHosts(["a.example", "b.example"])).status, 400);
});

Deno.test("handshake: an upgrade request with a body → 400; Content-Length: 0 is no body", () => {
  const bodies: Record<string, string | string[]>[] = [
    { "Content-Length": "5" },
    { "Content-Length": "1" },
    { "Content-Length": "00" }, // only the plain "0" is taken for no body
    { "Content-Length": ["0", "0"] },
    { "Transfer-Encoding": "chunked" },
    { "Transfer-Encoding": "identity" },
    { "Content-Length": "0", "Transfer-Encoding": "chunked" },
  ];
  for (const fields of bodies) {
    assert.equal(refused(request(fields)).status, 400, JSON.stringify(fields));
  }
  assert.equal(checkUpgrade(request({ "Content-Length": "0" })).ok, true);
});

Deno.test("handshake: Connection without upgrade → 400", () => {
  assert.equal(refused(request({ Connection: null })).status, 400);
  assert.equal(refused(request({ Connection: "keep-alive" })).status, 400);
  assert.equal(refused(request({ Connection: "upgrade-ish" })).status, 400);
});

Deno.test("handshake: bad keys → 400", () => {
  const bad = [
    null, // missing
    "", // empty
    "abc", // wrong length
    "dGhlIHNhbXBsZSBub25jZQ", // no padding
    "dGhlIHNhbXBsZSBub25jZQ=", // 23 characters
    "dGhlIHNhbXBsZSBub25jZQ===", // 25 characters
    "!!!!!!!!!!!!!!!!!!!!!!==", // not base64
    "dGhlIHNhbXBsZSBub25j*Q==", // one bad character
    "AAAAAAAAAAAAAAAAAAAA", // 15 bytes
    btoa("x".repeat(15)), // 15 bytes
    btoa("x".repeat(17)), // 17 bytes
    btoa("x".repeat(18)), // 18 bytes
    btoa("x".repeat(32)), // 32 bytes
    [RFC_KEY, RFC_KEY], // two keys
  ];
  for (const key of bad) {
    assert.equal(refused(request({ "Sec-WebSocket-Key": key })).status, 400, String(key));
  }
  // Any 16 bytes are a valid key.
  for (const bytes of [new Uint8Array(16), new Uint8Array(16).fill(255)]) {
    const key = btoa(String.fromCharCode(...bytes));
    assert.equal(checkUpgrade(request({ "Sec-WebSocket-Key": key })).ok, true, key);
  }
});

Deno.test("handshake: version 8 → 426 with Sec-WebSocket-Version: 13", () => {
  for (const v of ["8", "7", "12", "14", "13, 8"]) {
    const r = refused(request({ "Sec-WebSocket-Version": v }));
    assert.equal(r.status, 426, v);
    assert.equal(r.headers["Sec-WebSocket-Version"], "13", v);
  }
  // The response as written carries the header.
  const check = checkUpgrade(request({ "Sec-WebSocket-Version": "8" }));
  assert.ok(!check.ok);
  const text = new TextDecoder().decode(encodeResponse(check.response));
  assert.match(text, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
  assert.match(text, /\r\nSec-WebSocket-Version: 13\r\n/);
});

Deno.test("handshake: missing version → 400", () => {
  assert.equal(refused(request({ "Sec-WebSocket-Version": null })).status, 400);
});

Deno.test("handshake: HTTP/1.0 → 400", () => {
  assert.equal(refused(request({}, "GET /chat HTTP/1.0")).status, 400);
});

Deno.test("handshake: switchingProtocols writes a complete 101 response", () => {
  const text = new TextDecoder().decode(switchingProtocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(text, /\r\nUpgrade: websocket\r\n/i);
  assert.match(text, /\r\nConnection: Upgrade\r\n/i);
  assert.match(text, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  assert.ok(text.endsWith("\r\n\r\n"));
  assert.doesNotMatch(text, /Sec-WebSocket-Protocol/);
  const withProto = new TextDecoder().decode(switchingProtocols("x", "chat"));
  assert.match(withProto, /\r\nSec-WebSocket-Protocol: chat\r\n\r\n$/);
});

Deno.test("handshake: selectProtocol picks the client's first supported protocol", () => {
  assert.equal(selectProtocol(["a", "b", "c"], ["c", "b"]), "b");
  assert.equal(selectProtocol(["a"], ["b"]), undefined);
  assert.equal(selectProtocol([], ["b"]), undefined);
});

Deno.test("handshake: with no protocols configured, the client's first offer is selected", () => {
  assert.equal(selectProtocol(["chat", "superchat"], []), "chat");
  assert.equal(selectProtocol([], []), undefined);
  // Not a token (RFC 9110 §5.6.2): never echoed back, the next offer is taken.
  assert.equal(selectProtocol(['"quoted"', "a/b", "v2"], []), "v2");
  assert.equal(selectProtocol(["a b"], []), undefined);
});

Deno.test("acceptUpgrade: by default the first offered subprotocol is selected", async () => {
  const d = await acceptUpgrade(request({ "Sec-WebSocket-Protocol": "chat, superchat" }), POLICY);
  assert.ok(d.ok);
  assert.equal(d.protocol, "chat");
  assert.match(new TextDecoder().decode(d.response), /\r\nSec-WebSocket-Protocol: chat\r\n/);
  const none = await acceptUpgrade(
    request({ "Sec-WebSocket-Protocol": "chat" }),
    { allowedOrigins: [], protocols: ["v2"] },
  );
  assert.ok(none.ok, "a restricted server still upgrades, selecting nothing");
  assert.equal(none.protocol, undefined);
});

const POLICY = { allowedOrigins: [] as string[], protocols: [] as string[] };

Deno.test("acceptUpgrade: a valid request gets the 101 with the accept value of its key", async () => {
  const d = await acceptUpgrade(request(), POLICY);
  assert.ok(d.ok);
  assert.equal(d.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const text = new TextDecoder().decode(d.response);
  assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(text, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  assert.equal(d.protocol, undefined);
});

Deno.test("acceptUpgrade: refusals carry their reason and response", async () => {
  const bad = await acceptUpgrade(request({ "Sec-WebSocket-Key": "short" }), POLICY);
  assert.ok(!bad.ok);
  assert.equal(bad.reason, "bad_handshake");
  assert.equal(bad.response.status, 400);
  const policy = { allowedOrigins: ["https://good.example"], protocols: [] };
  const origin = await acceptUpgrade(request({ Origin: "https://evil.example" }), policy);
  assert.ok(!origin.ok);
  assert.equal(origin.reason, "origin");
  assert.equal(origin.response.status, 403);
  assert.ok((await acceptUpgrade(request({ Origin: "https://good.example" }), policy)).ok);
});

Deno.test("acceptUpgrade: the first offered subprotocol the policy supports is selected", async () => {
  const d = await acceptUpgrade(
    request({ "Sec-WebSocket-Protocol": "chat, superchat" }),
    { allowedOrigins: [], protocols: ["superchat", "chat"] },
  );
  assert.ok(d.ok);
  assert.equal(d.protocol, "chat");
  assert.match(new TextDecoder().decode(d.response), /\r\nSec-WebSocket-Protocol: chat\r\n/);
});

Deno.test("originAllowed: the server's own page (origin host = Host) is always allowed", () => {
  const allowed = ["https://good.example"];
  const own = request({ Host: "echo.example:8080", Origin: "http://echo.example:8080" });
  assert.equal(originAllowed(own, allowed), true);
  const other = request({ Host: "echo.example:8080", Origin: "http://echo.example:9090" });
  assert.equal(originAllowed(other, allowed), false);
  assert.equal(originAllowed(request({ Origin: "null" }), allowed), false);
  assert.equal(originAllowed(request({ Origin: "http://x" }), []), true, "no list: any origin");
  assert.equal(originAllowed(request(), allowed), true, "no Origin: not a browser");
});
