// The HTTP side of a real wsecho over raw TCP: pages, refusals with their statuses, the 101
// response, bytes that follow the head, slow and incomplete heads.

import assert from "node:assert/strict";
import { clientFrame, closePayload, RawClient, upgradeRequest } from "../support/raw_client.ts";
import { withServer } from "../support/server.ts";

const SHORT = { handshakeTimeout: 2000, closeTimeout: 500, pingInterval: 0 };

/** A response split into status, headers (lower-cased names) and body. */
interface Response {
  status: number;
  headers: Map<string, string>;
  body: string;
  raw: string;
}

function parseResponse(raw: string): Response {
  const end = raw.indexOf("\r\n\r\n");
  assert.ok(end !== -1, `no complete response head in ${JSON.stringify(raw.slice(0, 200))}`);
  const lines = raw.slice(0, end).split("\r\n");
  const m = /^HTTP\/1\.1 (\d{3}) .*$/.exec(lines[0]);
  assert.ok(m !== null, `bad status line ${JSON.stringify(lines[0])}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    assert.ok(colon > 0, `bad header line ${JSON.stringify(line)}`);
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(m[1]), headers, body: raw.slice(end + 4), raw };
}

/**
 * Fails the test rather than hanging when the server never answers: closes the client after
 * a generous delay (a hang guard, not a timing assertion).
 */
function hangGuard(c: RawClient, ms = 15_000): { fired: () => boolean; clear: () => void } {
  let fired = false;
  const t = setTimeout(() => {
    fired = true;
    c.close();
  }, ms);
  return { fired: () => fired, clear: () => clearTimeout(t) };
}

/** Sends `request` and reads the whole response (the server closes after it). */
async function exchange(port: number, request: string | Uint8Array): Promise<Response> {
  const c = await RawClient.connect(port);
  const guard = hangGuard(c);
  try {
    await c.send(request);
    const raw = await c.reader.rest();
    assert.equal(guard.fired(), false, "the server did not answer and close");
    return parseResponse(raw);
  } finally {
    guard.clear();
    c.close();
  }
}

const get = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

/** Completes the closing handshake from the client side and expects the server's FIN. */
async function closeCleanly(c: RawClient): Promise<void> {
  await c.sendFrame({ opcode: 8, payload: closePayload(1000) });
  const reply = await c.frame();
  assert.equal(reply?.opcode, 8);
  assert.deepEqual([...reply!.payload], [0x03, 0xe8]);
  assert.equal(await c.frame(), null, "the server ends TCP after the close");
}

Deno.test("http: GET / → 200 text/html page", async () => {
  await withServer(SHORT, async (port) => {
    const r = await exchange(port, get("/"));
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^text\/html/);
    // The body was decoded one character per byte (latin1), so its length is its size in bytes.
    assert.equal(Number(r.headers.get("content-length")), r.body.length);
    assert.ok(r.body.length > 0);
    assert.match(r.body, /<html|<!doctype/i);
  });
});

Deno.test("http: HEAD / → the same headers and no body", async () => {
  await withServer(SHORT, async (port) => {
    const head = await exchange(port, `HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    const full = await exchange(port, get("/"));
    assert.equal(head.status, 200);
    assert.equal(head.body, "", "no body after the head");
    assert.equal(head.headers.get("content-type"), full.headers.get("content-type"));
    assert.equal(head.headers.get("content-length"), full.headers.get("content-length"));
    assert.ok(Number(head.headers.get("content-length")) > 0);
  });
});

Deno.test("http: GET /nope → 404", async () => {
  await withServer(SHORT, async (port) => {
    const r = await exchange(port, get("/nope"));
    assert.equal(r.status, 404);
    assert.equal(Number(r.headers.get("content-length")), r.body.length);
  });
});

Deno.test("http: POST / → 405 with Allow", async () => {
  await withServer(SHORT, async (port) => {
    const r = await exchange(
      port,
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert.equal(r.status, 405);
    const allow = (r.headers.get("allow") ?? "").split(",").map((s) => s.trim());
    assert.ok(allow.includes("GET"), `Allow: ${allow}`);
    assert.ok(!allow.includes("POST"));
  });
});

Deno.test("http: GET /healthz → 200 ok", async () => {
  await withServer(SHORT, async (port) => {
    const r = await exchange(port, get("/healthz"));
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), "ok");
  });
});

Deno.test("http: upgrade with version 8 → 426 with Sec-WebSocket-Version: 13", async () => {
  await withServer(SHORT, async (port) => {
    const r = await exchange(port, upgradeRequest("/", { "Sec-WebSocket-Version": "8" }));
    assert.equal(r.status, 426);
    assert.equal(r.headers.get("sec-websocket-version"), "13");
  });
});

Deno.test("http: HEAD with upgrade headers is not upgraded (RFC 6455 §4.2.1: GET only)", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.connect(port);
    const guard = hangGuard(c);
    try {
      await c.send(upgradeRequest("/").replace(/^GET /, "HEAD "));
      const head = await c.reader.head();
      assert.ok(head !== null, "the server closed without an answer");
      const r = parseResponse(head);
      assert.notEqual(r.status, 101, "a HEAD request must not switch protocols");
      assert.equal(r.headers.has("sec-websocket-accept"), false);
      // Whatever the status, a HEAD response has no body, and the server then closes.
      assert.equal(await c.reader.rest(), "");
      assert.equal(guard.fired(), false);
    } finally {
      guard.clear();
      c.close();
    }
  });
});

Deno.test("http: upgrade with a bad key → 400", async () => {
  await withServer(SHORT, async (port) => {
    for (const key of ["short", "!!!!!!!!!!!!!!!!!!!!!!==", btoa("seventeen bytes!!")]) {
      const r = await exchange(port, upgradeRequest("/", { "Sec-WebSocket-Key": key }));
      assert.equal(r.status, 400, key);
    }
    const missing = await exchange(port, upgradeRequest("/", { "Sec-WebSocket-Key": null }));
    assert.equal(missing.status, 400);
  });
});

Deno.test("http: upgrade without Connection: Upgrade → 400", async () => {
  await withServer(SHORT, async (port) => {
    const r = await exchange(port, upgradeRequest("/", { Connection: null }));
    assert.equal(r.status, 400);
    const ka = await exchange(port, upgradeRequest("/", { Connection: "keep-alive" }));
    assert.equal(ka.status, 400);
  });
});

Deno.test("http: a head over 8 KiB → 431 while the client is still sending it", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.connect(port);
    const guard = hangGuard(c);
    try {
      // 9 KiB of head and no blank line: the server must answer without waiting for the end.
      let head = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n";
      for (let i = 0; head.length < 9 * 1024; i++) head += `X-Pad-${i}: ${"p".repeat(90)}\r\n`;
      await c.send(head);
      const response = await c.reader.head();
      assert.equal(guard.fired(), false, "no answer before the client finished its head");
      assert.ok(response !== null, "the server closed without an answer");
      assert.equal(parseResponse(response).status, 431);
    } finally {
      guard.clear();
      c.close();
    }
  });
});

Deno.test("http: 431 reaches a client that keeps on sending header lines", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.connect(port);
    const guard = hangGuard(c);
    let stop = false;
    // Keeps writing 1 KiB header lines (at most 256 KiB) until the response has been read or
    // the server stops accepting bytes.
    const sender = (async () => {
      await c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      const line = `X-More: ${"m".repeat(1014)}\r\n`;
      for (let i = 0; i < 256 && !stop; i++) await c.send(line);
    })().catch(() => {}); // the server may close under the writes
    try {
      const response = await c.reader.head();
      stop = true;
      assert.equal(guard.fired(), false, "no answer while the client kept sending");
      assert.ok(response !== null, "the server closed without an answer");
      assert.equal(parseResponse(response).status, 431);
    } finally {
      stop = true;
      guard.clear();
      c.close();
      await sender;
    }
  });
});

Deno.test("http: 101 carries the right Sec-WebSocket-Accept", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.connect(port);
    try {
      await c.send(upgradeRequest("/", {
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
      }));
      const head = await c.reader.head();
      assert.ok(head !== null);
      const lines = head.split("\r\n");
      assert.equal(lines[0], "HTTP/1.1 101 Switching Protocols");
      const r = parseResponse(head);
      assert.equal(r.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
      assert.equal(r.headers.get("upgrade")?.toLowerCase(), "websocket");
      assert.ok(
        (r.headers.get("connection") ?? "").toLowerCase().split(",").map((s) => s.trim())
          .includes("upgrade"),
      );
      // permessage-deflate is on by default; the answer states the parameters in force.
      assert.equal(
        r.headers.get("sec-websocket-extensions"),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      );
      await closeCleanly(c);
    } finally {
      c.close();
    }
  });
});

Deno.test("http: a frame in the same write as the request head is echoed", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.connect(port);
    try {
      const req = new TextEncoder().encode(upgradeRequest("/"));
      const f1 = clientFrame({ opcode: 1, payload: "right after the head" });
      const f2 = clientFrame({ opcode: 2, payload: new Uint8Array([1, 2, 3]) });
      const bytes = new Uint8Array(req.length + f1.length + f2.length);
      bytes.set(req);
      bytes.set(f1, req.length);
      bytes.set(f2, req.length + f1.length);
      await c.send(bytes);
      const head = await c.reader.head();
      assert.ok(head?.startsWith("HTTP/1.1 101 "), head ?? "no response");
      const e1 = await c.frame();
      assert.equal(e1?.opcode, 1);
      assert.equal(new TextDecoder().decode(e1!.payload), "right after the head");
      const e2 = await c.frame();
      assert.equal(e2?.opcode, 2);
      assert.deepEqual([...e2!.payload], [1, 2, 3]);
      await closeCleanly(c);
    } finally {
      c.close();
    }
  });
});

Deno.test("http: a request sent one byte per write still upgrades", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.connect(port);
    try {
      c.conn.setNoDelay(true);
      const bytes = new TextEncoder().encode(upgradeRequest("/"));
      for (let i = 0; i < bytes.length; i++) await c.send(bytes.subarray(i, i + 1));
      const head = await c.reader.head();
      assert.ok(head?.startsWith("HTTP/1.1 101 "), head ?? "no response");
      assert.match(head!, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
      // The connection works: a frame sent one byte per write is echoed too.
      const frame = clientFrame({ opcode: 1, payload: "slow" });
      for (let i = 0; i < frame.length; i++) await c.send(frame.subarray(i, i + 1));
      const echo = await c.frame();
      assert.equal(new TextDecoder().decode(echo!.payload), "slow");
      await closeCleanly(c);
    } finally {
      c.close();
    }
  });
});

Deno.test("http: a client that never finishes its head is disconnected after the timeout", async () => {
  await withServer({ ...SHORT, handshakeTimeout: 200 }, async (port) => {
    const c = await RawClient.connect(port);
    const guard = hangGuard(c);
    try {
      await c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      const rest = await c.reader.rest(); // until the server ends the connection
      assert.equal(guard.fired(), false, "the server never disconnected the client");
      // Whatever was sent, it was not a successful response.
      if (rest !== "") assert.match(rest, /^HTTP\/1\.1 408 /);
    } finally {
      guard.clear();
      c.close();
    }
  });
});

Deno.test("http: a client trickling its head a byte at a time is still disconnected", async () => {
  await withServer({ ...SHORT, handshakeTimeout: 200 }, async (port) => {
    const c = await RawClient.connect(port);
    c.conn.setNoDelay(true);
    const guard = hangGuard(c);
    let stop = false;
    // Slowloris: a never-ending header value, one byte every 20 ms.
    const sender = (async () => {
      await c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
      while (!stop) {
        await c.send("s");
        await new Promise((r) => setTimeout(r, 20));
      }
    })().catch(() => {});
    try {
      const rest = await c.reader.rest();
      stop = true;
      assert.equal(guard.fired(), false, "the server never disconnected the client");
      if (rest !== "") assert.match(rest, /^HTTP\/1\.1 408 /);
    } finally {
      stop = true;
      guard.clear();
      c.close();
      await sender;
    }
  });
});

Deno.test("http: a client that sends nothing at all is disconnected after the timeout", async () => {
  await withServer({ ...SHORT, handshakeTimeout: 200 }, async (port) => {
    const c = await RawClient.connect(port);
    const guard = hangGuard(c);
    try {
      const rest = await c.reader.rest();
      assert.equal(guard.fired(), false, "the server never disconnected the client");
      if (rest !== "") assert.match(rest, /^HTTP\/1\.1 408 /);
    } finally {
      guard.clear();
      c.close();
    }
  });
});

// --- RFC 9110/9112 rules, enforced for every path ------------------------------------------

Deno.test("http: an HTTP/1.1 request without Host → 400, on pages and on the upgrade path", async () => {
  await withServer(SHORT, async (port) => {
    for (const path of ["/healthz", "/", "/metrics", "/nope"]) {
      const r = await exchange(port, `GET ${path} HTTP/1.1\r\nAccept: */*\r\n\r\n`);
      assert.equal(r.status, 400, path);
      assert.equal(r.body, "missing Host header\n", path);
    }
    const upgrade = await exchange(port, upgradeRequest("/", { Host: null }));
    assert.equal(upgrade.status, 400);
    // HTTP/1.0 may omit it.
    const old = await exchange(port, "GET /healthz HTTP/1.0\r\n\r\n");
    assert.equal(old.status, 200);
  });
});

Deno.test("http: two Host fields or an invalid Host → 400", async () => {
  await withServer(SHORT, async (port) => {
    const twice = await exchange(port, get("/healthz", "Host: 127.0.0.1\r\n"));
    assert.deepEqual([twice.status, twice.body], [400, "more than one Host header\n"]);
    const upgrade = await exchange(port, upgradeRequest("/", { "X-A": "1\r\nHost: b.example" }));
    assert.equal(upgrade.status, 400);
    for (const host of ["", "user@127.0.0.1", "127.0.0.1:80x", "a b", "[::1"]) {
      const r = await exchange(port, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.deepEqual([r.status, r.body], [400, "invalid Host header\n"], host);
    }
  });
});

Deno.test("http: bad request-target bytes, a fragment, a bad percent-escape → 400", async () => {
  await withServer(SHORT, async (port) => {
    const targets: [string, string][] = [
      ["/healthz#x", "fragment in request-target"],
      ["/healthz%", "malformed percent-encoding in request-target"],
      ["/healthz%4", "malformed percent-encoding in request-target"],
      ["/healthz%zz", "malformed percent-encoding in request-target"],
      ["/caf\xe9", "malformed request-target"],
      ["/a\x01", "malformed request-target"],
      ["*", "asterisk-form request-target is not served"],
      ["127.0.0.1:80", "authority-form request-target is only for CONNECT"],
    ];
    for (const [target, message] of targets) {
      // One byte per character, so that \xe9 goes out as the single byte 0xe9.
      const request = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
      const r = await exchange(port, Uint8Array.from(request, (ch) => ch.charCodeAt(0)));
      assert.deepEqual([r.status, r.body], [400, message + "\n"], JSON.stringify(target));
    }
    // Absolute-form is accepted (RFC 9112 §3.2.2) and routed by its path.
    const abs = await exchange(port, "GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(abs.status, 200);
  });
});

Deno.test("http: a long method gets the same answer whole and split right after it", async () => {
  await withServer(SHORT, async (port) => {
    const method = "M".repeat(4201);
    const whole = await exchange(port, `${method} / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    // The method alone: the answer must not wait for the rest (which is never sent).
    const c = await RawClient.connect(port);
    const guard = hangGuard(c);
    try {
      await c.send(method);
      const head = await c.reader.head();
      assert.equal(guard.fired(), false, "no answer to the method alone");
      assert.ok(head !== null, "the server closed without an answer");
      assert.equal(parseResponse(head).status, whole.status);
    } finally {
      guard.clear();
      c.close();
    }
    assert.deepEqual([whole.status, whole.body], [501, "method too long\n"]);
    assert.match(whole.raw, /^HTTP\/1\.1 501 Not Implemented\r\n/);
  });
});

Deno.test("http: an upgrade request with a body (Content-Length: 5) → 400", async () => {
  await withServer(SHORT, async (port) => {
    const r = await exchange(port, upgradeRequest("/", { "Content-Length": "5" }) + "hello");
    assert.deepEqual([r.status, r.body], [400, "an upgrade request must not have a body\n"]);
    assert.equal(r.headers.has("sec-websocket-accept"), false);
    const chunked = await exchange(
      port,
      upgradeRequest("/", { "Transfer-Encoding": "chunked" }) + "5\r\nhello\r\n0\r\n\r\n",
    );
    assert.equal(chunked.status, 400);
  });
});
