// Every limit and timeout of the production edge, over real sockets: a raw TCP client sends
// exactly the (often hostile) bytes each case needs. Limits are configured small and timeouts
// short so that each test waits only for the event it asserts on.

import assert from "node:assert/strict";
import { clientFrame, closePayload, RawClient, upgradeRequest } from "../support/raw_client.ts";
import { withServer } from "../support/server.ts";

const encoder = new TextEncoder();

/** The status code of an HTTP response head ("HTTP/1.1 431 ..." → 431). */
function statusOf(head: string | null): number {
  assert.ok(head !== null, "the server closed without an HTTP response");
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(head);
  assert.ok(m !== null, `not an HTTP response: ${JSON.stringify(head.slice(0, 80))}`);
  return Number(m[1]);
}

/** The value of header `name` in a response head, or undefined. */
function headerOf(head: string, name: string): string | undefined {
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).toLowerCase() === name.toLowerCase()) {
      return line.slice(colon + 1).trim();
    }
  }
  return undefined;
}

/** Sends `request` on a fresh connection; the response head and body (read to EOF). */
async function exchange(port: number, request: string): Promise<{ head: string; body: string }> {
  const c = await RawClient.connect(port);
  try {
    await c.send(request);
    const head = await c.reader.head();
    statusOf(head);
    return { head: head!, body: await c.reader.rest() };
  } finally {
    c.close();
  }
}

/** A plain GET over raw TCP. */
function get(port: number, path: string): Promise<{ head: string; body: string }> {
  return exchange(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
}

/** Retries `check` (every 20 ms, at most `tries` times) until it holds; fails with `what`. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, tries = 250) {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`never happened: ${what}`);
}

/**
 * Hang protection, not a timing assertion: if the awaited event never comes, the client is
 * closed after `ms` (far beyond the configured timeouts) so that the test fails instead of
 * hanging. Check `fired` and call `clear()` in a finally.
 */
function guard(c: RawClient, ms = 10_000) {
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
    c.close();
  }, ms);
  return {
    get fired() {
      return fired;
    },
    clear: () => clearTimeout(timer),
  };
}

/** The value of the sample `name{...}` in a Prometheus text exposition (first match). */
function sample(text: string, name: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return undefined;
}

/** A close-code from a close frame's payload (1005 when empty). */
function codeOf(payload: Uint8Array): number {
  return payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
}

Deno.test("a request head over maxHead gets 431 while the client is still sending", async () => {
  // (The handshake timeout only keeps a broken server from hanging the test.)
  await withServer({ maxHead: 1024, handshakeTimeout: 10_000 }, async (port) => {
    const c = await RawClient.connect(port);
    let stop = false;
    let written = 0;
    // An endless stream of header lines (bounded at 4 MiB), written in the background.
    const writer = (async () => {
      await c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      const line = encoder.encode(`X-Filler: ${"a".repeat(500)}\r\n`);
      while (!stop && written < 4 * 1024 * 1024) {
        await c.send(line);
        written += line.length;
      }
      // Not answered while sending: end the stream, so that the test fails rather than hangs.
      if (!stop) await c.conn.closeWrite();
    })().catch(() => {/* the server may close first: that is what we want */});
    try {
      const head = await c.reader.head();
      assert.equal(statusOf(head), 431);
      assert.ok(written < 4 * 1024 * 1024, "the answer came only after the client stopped");
    } finally {
      stop = true;
      await writer;
      c.close();
    }
  });
});

Deno.test("more than maxHeaders header fields get 431", async () => {
  await withServer({ maxHeaders: 5 }, async (port) => {
    const extra: Record<string, string> = {};
    for (let i = 0; i < 10; i++) extra[`X-Field-${i}`] = "v";
    const { head } = await exchange(port, upgradeRequest("/", extra));
    assert.equal(statusOf(head), 431);
    // At the limit it is still fine: the 5 fields of a bare upgrade request.
    const ok = await RawClient.open(port).catch((e) => e as Error);
    assert.ok(ok instanceof RawClient, `5 fields refused: ${ok}`);
    ok.close();
  });
});

Deno.test("a request-target over maxTarget gets 414", async () => {
  await withServer({ maxTarget: 64 }, async (port) => {
    const { head } = await exchange(port, upgradeRequest("/" + "a".repeat(200)));
    assert.equal(statusOf(head), 414);
  });
});

Deno.test("a request line longer than maxTarget allows gets 414 before it ends", async () => {
  // (The handshake timeout only keeps a server that waits for the line from hanging the test.)
  await withServer({ maxTarget: 64, handshakeTimeout: 10_000 }, async (port) => {
    const c = await RawClient.connect(port);
    try {
      // No CRLF, ever: the server must not wait for the end of the line.
      await c.send("GET /" + "a".repeat(1000));
      assert.equal(statusOf(await c.reader.head()), 414);
    } finally {
      c.close();
    }
  });
});

Deno.test("a client that sends half a head is disconnected after handshakeTimeout", async () => {
  await withServer({ handshakeTimeout: 150 }, async (port, server) => {
    const c = await RawClient.connect(port);
    const g = guard(c);
    try {
      await c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n");
      const rest = await c.reader.rest(); // returns at EOF or reset
      assert.ok(!g.fired, "the server never disconnected the client");
      assert.ok(
        rest === "" || rest.startsWith("HTTP/1.1 408 "),
        `unexpected bytes before the disconnect: ${JSON.stringify(rest.slice(0, 80))}`,
      );
      assert.ok(c.reader.eof);
      await eventually("the server forgets the connection", () => server.connectionCount === 0);
    } finally {
      g.clear();
      c.close();
    }
  });
});

Deno.test("beyond maxConnections a connection gets 503 with Retry-After; a freed slot is reused", async () => {
  await withServer({ maxConnections: 2 }, async (port, server) => {
    const a = await RawClient.open(port);
    const b = await RawClient.open(port);
    let d: RawClient | null = null;
    try {
      const c = await RawClient.connect(port);
      try {
        await c.send(upgradeRequest("/"));
        const head = await c.reader.head();
        assert.equal(statusOf(head), 503);
        assert.ok(headerOf(head!, "Retry-After") !== undefined, "no Retry-After header");
        await c.reader.rest();
        assert.ok(c.reader.eof, "the refused connection was not closed");
      } finally {
        c.close();
      }
      // Close one cleanly; once the server has let go of it (and of the refused one), a new
      // connection is accepted again.
      await a.sendFrame({ opcode: 8, payload: closePayload(1000) });
      const closed = await a.closeCode();
      assert.equal(closed.code, 1000);
      await eventually("two connections released", () => server.connectionCount === 1);
      d = await RawClient.open(port);
      await d.sendFrame({ opcode: 1, payload: "again" });
      const f = await d.frame();
      assert.equal(new TextDecoder().decode(f!.payload), "again");
    } finally {
      a.close();
      b.close();
      d?.close();
    }
  });
});

Deno.test("beyond maxConnectionsPerIp a second connection from 127.0.0.1 gets 503", async () => {
  await withServer({ maxConnectionsPerIp: 1 }, async (port) => {
    const a = await RawClient.open(port);
    try {
      const { head } = await exchange(port, upgradeRequest("/"));
      assert.equal(statusOf(head), 503);
      assert.ok(headerOf(head, "Retry-After") !== undefined, "no Retry-After header");
    } finally {
      a.close();
    }
  });
});

Deno.test("a frame header announcing more than maxMessage is closed with 1009", async () => {
  await withServer({ maxMessage: 1024 }, async (port) => {
    const c = await RawClient.open(port);
    const g = guard(c);
    try {
      // FIN binary, masked, 16-bit length 2048, a mask key, and no payload at all.
      await c.send(new Uint8Array([0x82, 0x80 | 126, 0x08, 0x00, 1, 2, 3, 4]));
      const r = await c.closeCode();
      assert.ok(!g.fired, "the server waited for the payload");
      assert.equal(r.code, 1009);
      assert.equal(r.before.length, 0);
      assert.ok(r.eof, "TCP did not end after the close handshake");
    } finally {
      g.clear();
      c.close();
    }
  });
});

Deno.test("keepalive: an idle client is pinged, and answering keeps it open", async () => {
  await withServer({ pingInterval: 100, pingTimeout: 100 }, async (port) => {
    const c = await RawClient.open(port);
    const g = guard(c);
    try {
      for (let round = 0; round < 3; round++) {
        const ping = await c.frame();
        assert.ok(!g.fired, `ping ${round + 1} never came`);
        assert.ok(ping !== null, `EOF instead of ping ${round + 1}`);
        assert.equal(ping.opcode, 9, `ping ${round + 1}: opcode ${ping.opcode}`);
        await c.sendFrame({ opcode: 10, payload: ping.payload });
      }
      await c.sendFrame({ opcode: 1, payload: "still here" });
      // A ping may cross the message; skip pings until the echo.
      let f = await c.frame();
      while (f !== null && f.opcode === 9) f = await c.frame();
      assert.equal(f?.opcode, 1);
      assert.equal(new TextDecoder().decode(f!.payload), "still here");
      await c.sendFrame({ opcode: 8, payload: closePayload(1000) });
      assert.equal((await c.closeCode()).code, 1000);
    } finally {
      g.clear();
      c.close();
    }
  });
});

Deno.test("keepalive: a client that never answers a ping gets close 1001, then EOF", async () => {
  await withServer({ pingInterval: 100, pingTimeout: 100 }, async (port) => {
    const c = await RawClient.open(port);
    const g = guard(c);
    try {
      const ping = await c.frame();
      assert.equal(ping?.opcode, 9);
      // Say nothing: the next frame must be the close, and then the stream must end.
      const close = await c.frame();
      assert.ok(!g.fired, "neither a close frame nor EOF ever came");
      assert.ok(close !== null, "EOF without a close frame (expected close 1001 first)");
      assert.equal(close.opcode, 8, `opcode ${close.opcode} instead of a close frame`);
      assert.equal(codeOf(close.payload), 1001);
      assert.equal(await c.frame(), null);
      assert.ok(!g.fired, "the server never ended TCP after its close frame");
    } finally {
      g.clear();
      c.close();
    }
  });
});

Deno.test("closeTimeout: a peer that never answers the close frame loses TCP anyway", async () => {
  await withServer({ closeTimeout: 150 }, async (port, server) => {
    const c = await RawClient.open(port);
    const g = guard(c);
    try {
      await c.sendFrame({ opcode: 1, payload: new Uint8Array([0x61, 0xff, 0xfe]) });
      const close = await c.frame();
      assert.equal(close?.opcode, 8);
      assert.equal(codeOf(close!.payload), 1007);
      // Neither answer nor close: the server must end the stream and release the socket.
      assert.equal(await c.frame(), null);
      assert.ok(!g.fired, "the server never ended TCP");
      await eventually("the server releases the connection", () => server.connectionCount === 0);
    } finally {
      g.clear();
      c.close();
    }
  });
});

// The most bytes that can sit in the kernel between a writer and a reader that stopped reading
// on loopback: the receiver's and the sender's socket buffers, each at most its sysctl maximum
// (and the client side, which never reads, does not grow its receive buffer). Capped at 16 MiB.
async function kernelBufferBound(): Promise<number> {
  try {
    const max = async (f: string) =>
      Number((await Deno.readTextFile(f)).trim().split(/\s+/).at(-1));
    const r = await max("/proc/sys/net/ipv4/tcp_rmem");
    const w = await max("/proc/sys/net/ipv4/tcp_wmem");
    return Math.min(16 * 1024 * 1024, 2 * (r + w));
  } catch {
    return 16 * 1024 * 1024;
  }
}

Deno.test("backpressure: a client that does not read stalls its own writes; echoes stay exact", async () => {
  await withServer({ maxBackpressure: 64 * 1024 }, async (port) => {
    const SIZE = 64 * 1024;
    const LIMIT = 64 * 1024 * 1024;
    const bound = await kernelBufferBound();
    // Message i is a window of this random block starting at i % 251.
    const block = new Uint8Array(SIZE + 256);
    crypto.getRandomValues(block.subarray(0, SIZE));
    block.copyWithin(SIZE, 0, 256);
    const body = (i: number) => block.subarray(i % 251, (i % 251) + SIZE);
    const c = await RawClient.open(port);
    let stop = false;
    let sent = 0; // whole messages written
    let written = 0; // bytes written
    let writerError: unknown = null;
    const writer = (async () => {
      while (!stop && written < LIMIT) {
        const frame = clientFrame({ opcode: 2, payload: body(sent) });
        let done = 0;
        while (done < frame.length) done += await c.conn.write(frame.subarray(done));
        written += frame.length;
        sent++;
      }
    })().catch((e) => writerError = e);
    try {
      // The server stops reading: its queue is over the limit and /metrics says so.
      await eventually("wsecho_backpressured_connections 1", async () => {
        const { body } = await get(port, "/metrics");
        return sample(body, "wsecho_backpressured_connections") === 1;
      });
      // ... and the client's writes stall once the kernel buffers are full.
      let last = -1;
      await eventually("the client's writes stall", async () => {
        const now = written;
        await new Promise((r) => setTimeout(r, 100));
        const still = written === now && now === last;
        last = written;
        return still;
      }, 100);
      assert.equal(writerError, null);
      assert.ok(written < LIMIT, "the writer wrote everything: the server never stopped reading");
      assert.ok(
        written < bound,
        `${written} bytes were accepted, more than kernel buffers (${bound}) explain`,
      );
      // Read everything back: byte-exact and in order.
      stop = true;
      let received = 0;
      for (;;) {
        // Every echo so far is read, so the server reads again and the writer's last message
        // (if one is under way) goes through: after that, `sent` is final.
        if (received === sent) {
          await writer;
          if (received === sent) break;
        }
        const f = await c.frame();
        assert.ok(f !== null, `EOF after ${received} of ${sent} echoes`);
        assert.equal(f.opcode, 2);
        const want = body(received);
        assert.equal(f.payload.length, want.length, `echo ${received}: length`);
        for (let j = 0; j < want.length; j++) {
          if (f.payload[j] !== want[j]) assert.fail(`echo ${received} differs at byte ${j}`);
        }
        received++;
      }
      assert.equal(writerError, null);
      assert.equal(received, sent);
      // The connection still works.
      await c.sendFrame({ opcode: 1, payload: "after" });
      const f = await c.frame();
      assert.equal(f?.opcode, 1);
      assert.equal(new TextDecoder().decode(f!.payload), "after");
      await c.sendFrame({ opcode: 8, payload: closePayload(1000) });
      assert.equal((await c.closeCode()).code, 1000);
    } finally {
      stop = true;
      c.close();
      await writer;
    }
  });
});

Deno.test("allowedOrigins: a foreign Origin gets 403; the listed one and none are upgraded", async () => {
  await withServer({ allowedOrigins: ["https://good.example"] }, async (port) => {
    const { head } = await exchange(port, upgradeRequest("/", { Origin: "https://evil.example" }));
    assert.equal(statusOf(head), 403);
    for (const origin of ["https://good.example", null]) {
      const c = await RawClient.connect(port);
      try {
        await c.send(upgradeRequest("/", { Origin: origin }));
        assert.equal(statusOf(await c.reader.head()), 101, `Origin ${origin}`);
        await c.sendFrame({ opcode: 8, payload: closePayload(1000) });
        assert.equal((await c.closeCode()).code, 1000);
      } finally {
        c.close();
      }
    }
  });
});
