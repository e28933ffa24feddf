// A real wsecho against Deno's built-in WebSocket client (a second, independent implementation
// of RFC 6455), plus a fragmented message from the raw client.

import assert from "node:assert/strict";
import { clientFrame, closePayload, RawClient } from "../support/raw_client.ts";
import { withServer } from "../support/server.ts";

const SHORT = { handshakeTimeout: 2000, closeTimeout: 500, pingInterval: 0 };

/** An open Deno WebSocket whose messages are queued for `next()`. */
class Client {
  readonly ws: WebSocket;
  readonly closed: Promise<CloseEvent>;
  readonly #queue: (string | ArrayBuffer)[] = [];
  #waiter: (() => void) | null = null;
  #closedEvent: CloseEvent | null = null;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    this.closed = new Promise((resolve) => {
      ws.onclose = (e) => {
        this.#closedEvent = e;
        this.#waiter?.();
        resolve(e);
      };
    });
    ws.onmessage = (e) => {
      this.#queue.push(e.data);
      this.#waiter?.();
    };
  }

  static async open(port: number): Promise<Client> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const c = new Client(ws);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("WebSocket failed to open"));
    });
    ws.onerror = null;
    return c;
  }

  /** The next message; fails if the connection closes first. */
  async next(): Promise<string | ArrayBuffer> {
    while (this.#queue.length === 0) {
      if (this.#closedEvent !== null) {
        assert.fail(`closed (${this.#closedEvent.code}) while waiting for a message`);
      }
      await new Promise<void>((resolve) => this.#waiter = resolve);
      this.#waiter = null;
    }
    return this.#queue.shift()!;
  }

  /** Closes with `code` and `reason` and waits for the close event. */
  async close(code = 1000, reason = ""): Promise<CloseEvent> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    return await this.closed;
  }
}

/** Runs `fn` with a connected client, always closing it (and awaiting the close) afterwards. */
async function withClient(port: number, fn: (c: Client) => Promise<void>): Promise<void> {
  const c = await Client.open(port);
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

function patterned(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 251 + (i >>> 10)) & 0xff;
  return b;
}

Deno.test("client: text messages, ASCII and non-ASCII, come back as text", async () => {
  await withServer(SHORT, async (port) => {
    await withClient(port, async (c) => {
      for (const text of ["hello", "", "héllo wörld", "日本語", "🎉 emoji 𝄞", "\u0000nul"]) {
        c.ws.send(text);
        const got = await c.next();
        assert.equal(typeof got, "string");
        assert.equal(got, text);
      }
    });
  });
});

Deno.test("client: binary messages come back as binary, byte for byte", async () => {
  await withServer(SHORT, async (port) => {
    await withClient(port, async (c) => {
      for (const n of [0, 1, 125, 126, 65535, 65536, 70000]) {
        const data = patterned(n);
        c.ws.send(data);
        const got = await c.next();
        assert.ok(got instanceof ArrayBuffer, `binary for ${n} bytes`);
        assert.deepEqual(new Uint8Array(got), data, `${n} bytes`);
      }
    });
  });
});

Deno.test("client: a 1 MiB text message", async () => {
  await withServer(SHORT, async (port) => {
    await withClient(port, async (c) => {
      const text = "aé€𝄞".repeat(1024 * 1024 / 10) + "x".repeat(1024 * 1024 % 10);
      assert.equal(new TextEncoder().encode(text).length, 1024 * 1024);
      c.ws.send(text);
      const got = await c.next();
      assert.equal(typeof got, "string");
      assert.ok(got === text, "the 1 MiB text comes back unchanged");
    });
  });
});

Deno.test("client: a 1 MiB binary message", async () => {
  await withServer(SHORT, async (port) => {
    await withClient(port, async (c) => {
      const data = patterned(1024 * 1024);
      c.ws.send(data);
      const got = await c.next();
      assert.ok(got instanceof ArrayBuffer);
      assert.equal(got.byteLength, data.length);
      assert.ok(
        new Uint8Array(got).every((b, i) => b === data[i]),
        "the 1 MiB binary comes back unchanged",
      );
    });
  });
});

Deno.test("client: 100 messages come back in order", async () => {
  await withServer(SHORT, async (port) => {
    await withClient(port, async (c) => {
      for (let i = 0; i < 100; i++) {
        if (i % 3 === 0) c.ws.send(new Uint8Array([i]));
        else c.ws.send(`message ${i}`);
      }
      for (let i = 0; i < 100; i++) {
        const got = await c.next();
        if (i % 3 === 0) {
          assert.ok(got instanceof ArrayBuffer, `message ${i} is binary`);
          assert.deepEqual([...new Uint8Array(got)], [i]);
        } else {
          assert.equal(got, `message ${i}`);
        }
      }
    });
  });
});

Deno.test("client: close with a chosen code and reason is clean, with that code", async () => {
  await withServer(SHORT, async (port) => {
    for (const [code, reason] of [[1000, "done"], [4000, "bye ünïcödé"], [3001, ""]] as const) {
      const c = await Client.open(port);
      c.ws.send("before closing");
      assert.equal(await c.next(), "before closing");
      const ev = await c.close(code, reason);
      assert.equal(ev.wasClean, true, `close ${code} is clean`);
      assert.equal(ev.code, code);
      assert.equal(ev.reason, reason);
    }
  });
});

Deno.test("client: a close right after a message still gets the echo first", async () => {
  await withServer(SHORT, async (port) => {
    const c = await Client.open(port);
    c.ws.send("last words");
    c.ws.close(1000, "now");
    const ev = await c.closed;
    assert.equal(await c.next(), "last words");
    assert.equal(ev.wasClean, true);
    assert.equal(ev.code, 1000);
  });
});

Deno.test("client: a fragmented message from the raw client is echoed as one message", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.open(port);
    try {
      await c.sendFrame({ opcode: 1, payload: "Hel", fin: false });
      await c.sendFrame({ opcode: 0, payload: "lo, wö", fin: false });
      await c.sendFrame({ opcode: 9, payload: "mid" }); // a ping between fragments
      await c.sendFrame({ opcode: 0, payload: "", fin: false });
      await c.sendFrame({ opcode: 0, payload: "rld!", fin: true });
      const pong = await c.frame();
      assert.equal(pong?.opcode, 0xa);
      assert.equal(new TextDecoder().decode(pong!.payload), "mid");
      const echo = await c.frame();
      assert.equal(echo?.opcode, 1);
      assert.equal(echo?.fin, true);
      assert.equal(echo?.masked, false);
      assert.equal(new TextDecoder().decode(echo!.payload), "Hello, wörld!");
      // A binary message in fragments, a UTF-8 character split across them.
      const euro = new TextEncoder().encode("€");
      await c.sendFrame({ opcode: 2, payload: euro.subarray(0, 1), fin: false });
      await c.sendFrame({ opcode: 0, payload: euro.subarray(1), fin: true });
      const bin = await c.frame();
      assert.equal(bin?.opcode, 2);
      assert.deepEqual(bin!.payload, euro);
      await c.sendFrame({ opcode: 8, payload: closePayload(1000) });
      const close = await c.frame();
      assert.equal(close?.opcode, 8);
      assert.equal(await c.frame(), null);
    } finally {
      c.close();
    }
  });
});

Deno.test("client: replies leave in the order their frames came (echo, pong, echo, close)", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.open(port);
    try {
      const parts = [
        clientFrame({ opcode: 1, payload: "one" }),
        clientFrame({ opcode: 9, payload: "ping" }),
        clientFrame({ opcode: 2, payload: new Uint8Array([2]) }),
        clientFrame({ opcode: 8, payload: closePayload(1000, "bye") }),
      ];
      const wire = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        wire.set(p, at);
        at += p.length;
      }
      await c.send(wire); // all in one write
      const got: [number, string][] = [];
      for (let f = await c.frame(); f !== null; f = await c.frame()) {
        got.push([f.opcode, [...f.payload].join(",")]);
      }
      assert.deepEqual(got, [
        [1, [...new TextEncoder().encode("one")].join(",")],
        [10, [...new TextEncoder().encode("ping")].join(",")],
        [2, "2"],
        [8, [...closePayload(1000, "bye")].join(",")],
      ]);
    } finally {
      c.close();
    }
  });
});

Deno.test("client: a 1 MiB message followed at once by close still comes back first", async () => {
  await withServer(SHORT, async (port) => {
    const c = await Client.open(port);
    const data = patterned(1024 * 1024);
    c.ws.send(data);
    c.ws.close(4321, "after the big one");
    const ev = await c.closed;
    const got = await c.next();
    assert.ok(got instanceof ArrayBuffer);
    assert.equal(got.byteLength, data.length);
    assert.ok(new Uint8Array(got).every((b, i) => b === data[i]), "intact");
    assert.equal(ev.wasClean, true);
    assert.equal(ev.code, 4321);
    assert.equal(ev.reason, "after the big one");
  });
});

Deno.test("client: a message followed by a TCP half-close is still echoed", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.open(port);
    try {
      await c.sendFrame({ opcode: 1, payload: "then FIN" });
      await c.sendFrame({ opcode: 2, payload: patterned(100_000) });
      await c.conn.closeWrite(); // no close frame: the peer just stops sending
      const first = await c.frame();
      assert.equal(first?.opcode, 1);
      assert.equal(new TextDecoder().decode(first!.payload), "then FIN");
      const second = await c.frame();
      assert.equal(second?.opcode, 2);
      assert.equal(second!.payload.length, 100_000);
      // Then the server ends the connection (with or without a close frame of its own).
      const last = await c.frame();
      if (last !== null) {
        assert.equal(last.opcode, 8);
        assert.equal(await c.frame(), null);
      }
    } finally {
      c.close();
    }
  });
});

Deno.test("client: 12 concurrent clients each get exactly their own messages back", async () => {
  await withServer(SHORT, async (port) => {
    const sizes = [0, 3, 125, 126, 4000, 65_535, 65_536, 100_000];
    await Promise.all(Array.from({ length: 12 }, async (_, id) => {
      await withClient(port, async (c) => {
        const sent: Uint8Array[] = [];
        for (let k = 0; k < 24; k++) {
          const data = patterned(sizes[(id + k) % sizes.length]).map((b) => b ^ id ^ k);
          if (data.length > 0) data[0] = id;
          sent.push(data);
          c.ws.send(data);
        }
        for (let k = 0; k < sent.length; k++) {
          const got = await c.next();
          assert.ok(got instanceof ArrayBuffer);
          const g = new Uint8Array(got);
          assert.equal(g.length, sent[k].length, `client ${id} message ${k} length`);
          assert.ok(g.every((b, i) => b === sent[k][i]), `client ${id} message ${k} intact`);
        }
      });
    }));
  });
});

Deno.test("client: frames before a framing error are echoed, then close 1002", async () => {
  await withServer(SHORT, async (port) => {
    const c = await RawClient.open(port);
    try {
      const good = clientFrame({ opcode: 1, payload: "before the fault" });
      const bad = clientFrame({ opcode: 1, payload: "unmasked", mask: false });
      const wire = new Uint8Array(good.length + bad.length);
      wire.set(good);
      wire.set(bad, good.length);
      await c.send(wire);
      const { code, before } = await c.closeCode();
      assert.deepEqual(
        before.map((f) => [f.opcode, new TextDecoder().decode(f.payload)]),
        [[1, "before the fault"]],
      );
      assert.equal(code, 1002);
    } finally {
      c.close();
    }
  });
});
