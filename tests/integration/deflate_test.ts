// permessage-deflate over real sockets: the handshake's answer, compressed echoes, every error,
// and the decompression bomb. The client compresses with node:zlib; server frames are inflated
// with a persistent raw inflater so that context takeover is exercised.

import assert from "node:assert/strict";
import zlib from "node:zlib";
import type { Config } from "../../src/config.ts";
import { DEFLATE_TAIL, Inflater } from "../../src/protocol/deflate.ts";
import {
  closePayload,
  RawClient,
  type ServerFrame,
  upgradeRequest,
} from "../support/raw_client.ts";
import { withDenoServer, withServer } from "../support/server.ts";

const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;
const BASE: Partial<Config> = { closeTimeout: 1000, pingInterval: 0 };
const encoder = new TextEncoder(), decoder = new TextDecoder();

/** Raw DEFLATE of `data` with a sync flush and the 00 00 ff ff tail stripped (RFC 7692 §7.2.1). */
function compress(data: Uint8Array | string): Uint8Array {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const out = zlib.deflateRawSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return new Uint8Array(out.buffer, out.byteOffset, out.length - 4);
}

/** Inflates server messages, keeping the window between them (as a context-taking client does). */
class ClientInflater {
  readonly #inf = new Inflater(15);

  inflate(payload: Uint8Array): Uint8Array {
    const input = new Uint8Array(payload.length + 4);
    input.set(payload);
    input.set(DEFLATE_TAIL, payload.length);
    const out = new Uint8Array(1 << 20);
    const [written, consumed] = this.#inf.inflate(input, 0, input.length, out, 0, out.length);
    assert.equal(consumed, input.length);
    return out.slice(0, written);
  }

  close(): void {
    this.#inf.close();
  }
}

interface Opened {
  c: RawClient;
  /** The 101's Sec-WebSocket-Extensions value, or null. */
  extensions: string | null;
}

async function openWith(
  port: number,
  extensions: string | string[] | null,
  path = "/",
): Promise<Opened> {
  const c = await RawClient.connect(port);
  let req = upgradeRequest(path);
  if (extensions !== null) {
    const lines = (Array.isArray(extensions) ? extensions : [extensions])
      .map((e) => `Sec-WebSocket-Extensions: ${e}\r\n`).join("");
    req = req.slice(0, -2) + lines + "\r\n";
  }
  await c.send(req);
  const head = await c.reader.head();
  assert.ok(head !== null && head.startsWith("HTTP/1.1 101 "), `no 101: ${head}`);
  const m = /\r\nSec-WebSocket-Extensions: ([^\r]*)\r\n/i.exec(head);
  return { c, extensions: m === null ? null : m[1] };
}

/** Runs `fn` with a client that offered `offer` to a fresh server. */
function deflateCase(
  name: string,
  offer: string | string[] | null,
  fn: (o: Opened) => Promise<void>,
  server: Partial<Config> = {},
): void {
  Deno.test(name, async () => {
    await withServer({ ...BASE, ...server }, async (port) => {
      const o = await openWith(port, offer);
      try {
        await fn(o);
      } finally {
        o.c.close();
      }
    });
  });
}

async function frame(c: RawClient): Promise<ServerFrame> {
  const f = await c.frame();
  assert.ok(f !== null, "the server ended TCP");
  assert.equal(f.masked, false);
  return f;
}

async function expectCloseCode(c: RawClient, code: number): Promise<void> {
  const r = await c.closeCode();
  assert.equal(r.code, code, `expected close ${code}, got ${r.code} "${r.reason}"`);
}

// --- negotiation over the wire ------------------------------------------------------------------

deflateCase(
  "handshake: a plain offer gets the default answer",
  "permessage-deflate; client_max_window_bits",
  ({ extensions }) => {
    assert.equal(
      extensions,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
    return Promise.resolve();
  },
);

deflateCase(
  "handshake: the first acceptable of several offers over several headers is taken",
  [
    "x-webkit-deflate-frame, permessage-deflate; bogus=1",
    'permessage-deflate; server_max_window_bits="10"',
  ],
  ({ extensions }) => {
    assert.equal(
      extensions,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
        "server_max_window_bits=10",
    );
    return Promise.resolve();
  },
);

deflateCase(
  "handshake: no acceptable offer: upgraded without the extension",
  "permessage-deflate; server_max_window_bits=20",
  async ({ c, extensions }) => {
    assert.equal(extensions, null);
    // And RSV1 is then a protocol error.
    await c.sendFrame({ opcode: OP.TEXT, payload: compress("hi"), rsv: 4 });
    await expectCloseCode(c, 1002);
  },
);

deflateCase(
  "handshake: --deflate off declines every offer",
  "permessage-deflate",
  ({ extensions }) => {
    assert.equal(extensions, null);
    return Promise.resolve();
  },
  { deflate: false },
);

Deno.test("handshake: a malformed Sec-WebSocket-Extensions gets 400 with the reason", async () => {
  await withServer(BASE, async (port) => {
    const c = await RawClient.connect(port);
    try {
      await c.send(upgradeRequest("/", { "Sec-WebSocket-Extensions": "permessage-deflate; =1" }));
      const res = await c.reader.rest();
      assert.match(res, /^HTTP\/1\.1 400 /);
      assert.match(res, /malformed Sec-WebSocket-Extensions: expected a parameter name/);
    } finally {
      c.close();
    }
  });
});

// --- the data path ------------------------------------------------------------------------------

deflateCase(
  "echo: a compressed text message comes back compressed (RSV1), and inflates to the same",
  "permessage-deflate",
  async ({ c }) => {
    const text = "hello, compressed world! ".repeat(20);
    await c.sendFrame({ opcode: OP.TEXT, payload: compress(text), rsv: 4 });
    const f = await frame(c);
    assert.equal(f.opcode, OP.TEXT);
    assert.equal(f.rsv, 4);
    assert.ok(f.payload.length < text.length);
    const inf = new ClientInflater();
    assert.equal(decoder.decode(inf.inflate(f.payload)), text);
    inf.close();
  },
);

deflateCase(
  "echo: an uncompressed message is echoed compressed; a small one goes out as it is",
  "permessage-deflate",
  async ({ c }) => {
    const data = new Uint8Array(4096).fill(7);
    await c.sendFrame({ opcode: OP.BINARY, payload: data });
    const f = await frame(c);
    assert.equal(f.rsv, 4);
    const inf = new ClientInflater();
    assert.deepEqual(inf.inflate(f.payload), data);
    inf.close();
    await c.sendFrame({ opcode: OP.TEXT, payload: compress("tiny"), rsv: 4 });
    const g = await frame(c);
    assert.equal(g.rsv, 0, "below --deflate-threshold: not compressed");
    assert.equal(decoder.decode(g.payload), "tiny");
  },
);

deflateCase(
  "echo: a compressed message fragmented over three frames (RSV1 on the first only)",
  "permessage-deflate",
  async ({ c }) => {
    const text = "fragmented and compressed ".repeat(50);
    const z = compress(text);
    const a = Math.floor(z.length / 3), b = Math.floor((2 * z.length) / 3);
    await c.sendFrame({ opcode: OP.TEXT, payload: z.subarray(0, a), fin: false, rsv: 4 });
    await c.sendFrame({ opcode: OP.PING, payload: "in between" });
    await c.sendFrame({ opcode: OP.CONT, payload: z.subarray(a, b), fin: false });
    await c.sendFrame({ opcode: OP.CONT, payload: z.subarray(b) });
    const pong = await frame(c);
    assert.equal(pong.opcode, OP.PONG);
    assert.equal(pong.rsv, 0, "control frames are never compressed");
    assert.equal(decoder.decode(pong.payload), "in between");
    const f = await frame(c);
    assert.equal(f.rsv, 4);
    const inf = new ClientInflater();
    assert.equal(decoder.decode(inf.inflate(f.payload)), text);
    inf.close();
  },
);

deflateCase(
  "echo: with context takeover both ways, messages reuse the window",
  "permessage-deflate",
  async ({ c, extensions }) => {
    assert.equal(extensions, "permessage-deflate");
    const text = "the same sentence, again and again, with context takeover. ".repeat(2);
    // The client keeps its window too: the second message refers back into the first.
    const d = zlib.createDeflateRaw();
    const flush = (s: string) =>
      new Promise<Uint8Array>((resolve) => {
        d.write(encoder.encode(s));
        d.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          const chunks: Uint8Array[] = [];
          let chunk: Uint8Array | null;
          while ((chunk = d.read() as Uint8Array | null) !== null) chunks.push(chunk);
          const all = new Uint8Array(chunks.reduce((n, x) => n + x.length, 0));
          let at = 0;
          for (const x of chunks) {
            all.set(x, at);
            at += x.length;
          }
          resolve(all.subarray(0, all.length - 4));
        });
      });
    const inf = new ClientInflater();
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      await c.sendFrame({ opcode: OP.TEXT, payload: await flush(text), rsv: 4 });
      const f = await frame(c);
      assert.equal(f.rsv, 4);
      assert.equal(decoder.decode(inf.inflate(f.payload)), text);
      sizes.push(f.payload.length);
    }
    d.close();
    inf.close();
    assert.ok(sizes[1] < sizes[0], `the second echo should be smaller: ${sizes}`);
  },
  { deflateContextTakeover: true },
);

Deno.test("inspect: the agreed parameters, RSV1, and the sizes on the wire and inflated", async () => {
  await withServer(BASE, async (port) => {
    const { c } = await openWith(port, "permessage-deflate; server_max_window_bits=12", "/inspect");
    const inf = new ClientInflater();
    const next = async () => {
      const f = await frame(c);
      return f.rsv === 4 ? inf.inflate(f.payload) : f.payload;
    };
    const json = async () => JSON.parse(decoder.decode(await next()));
    try {
      const h = await json();
      assert.equal(
        h.extensions,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
          "server_max_window_bits=12",
      );
      const text = "inspect me ".repeat(100);
      const z = compress(text);
      await c.sendFrame({ opcode: OP.TEXT, payload: z, rsv: 4 });
      const fr = await json();
      assert.equal(fr.kind, "frame");
      assert.equal(fr.rsv1, true);
      assert.equal(fr.payloadLength, z.length);
      const m = await json();
      assert.deepEqual(m, {
        type: "inspect",
        kind: "message",
        compressed: true,
        wireBytes: z.length,
        inflatedBytes: text.length,
      });
      const out = await json(); // the echo, compressed as it is sent: described, not its bytes
      assert.equal(out.direction, "out");
      assert.equal(out.compressed, true);
      assert.equal(out.rsv1, true);
      assert.equal(out.inflatedLength, text.length);
      assert.equal(decoder.decode(await next()), text);
    } finally {
      inf.close();
      c.close();
    }
  });
});

Deno.test("metrics: bytes before and after compression", async () => {
  await withDenoServer(BASE, async (port, server) => {
    const { c } = await openWith(port, "permessage-deflate");
    try {
      const text = "count me ".repeat(100);
      await c.sendFrame({ opcode: OP.TEXT, payload: compress(text), rsv: 4 });
      await frame(c);
      const m = server.metricsText();
      const value = (name: string) =>
        Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, "m").exec(m)?.[1]);
      assert.ok(value("wsecho_deflate_received_inflated_bytes_total") >= text.length);
      assert.ok(value("wsecho_deflate_sent_raw_bytes_total") >= text.length);
      assert.ok(
        value("wsecho_deflate_sent_wire_bytes_total") <
          value("wsecho_deflate_sent_raw_bytes_total"),
      );
      assert.ok(value("wsecho_deflate_received_wire_bytes_total") > 0);
    } finally {
      c.close();
    }
  });
});

// --- errors -------------------------------------------------------------------------------------

deflateCase("error: RSV1 on a continuation frame is 1002", "permessage-deflate", async ({ c }) => {
  const z = compress("abcdefgh".repeat(10));
  await c.sendFrame({ opcode: OP.TEXT, payload: z.subarray(0, 4), fin: false, rsv: 4 });
  await c.sendFrame({ opcode: OP.CONT, payload: z.subarray(4), rsv: 4 });
  await expectCloseCode(c, 1002);
});

deflateCase("error: RSV1 on a control frame is 1002", "permessage-deflate", async ({ c }) => {
  await c.sendFrame({ opcode: OP.PING, payload: "x", rsv: 4 });
  await expectCloseCode(c, 1002);
});

deflateCase(
  "error: RSV2 with the extension agreed is 1002",
  "permessage-deflate",
  async ({ c }) => {
    await c.sendFrame({ opcode: OP.TEXT, payload: "x", rsv: 2 });
    await expectCloseCode(c, 1002);
  },
);

deflateCase("error: RSV1 without the extension is 1002", null, async ({ c }) => {
  await c.sendFrame({ opcode: OP.TEXT, payload: compress("hello"), rsv: 4 });
  await expectCloseCode(c, 1002);
});

deflateCase("error: data that does not inflate is 1007", "permessage-deflate", async ({ c }) => {
  await c.sendFrame({
    opcode: OP.BINARY,
    payload: new Uint8Array([0xff, 0xff, 0xff, 1, 2]),
    rsv: 4,
  });
  await expectCloseCode(c, 1007);
});

deflateCase(
  "error: text that inflates to invalid UTF-8 is 1007",
  "permessage-deflate",
  async ({ c }) => {
    await c.sendFrame({
      opcode: OP.TEXT,
      payload: compress(new Uint8Array([0x61, 0xc3, 0x28])),
      rsv: 4,
    });
    await expectCloseCode(c, 1007);
  },
);

deflateCase(
  "error: a message inflating past --max-message is 1009",
  "permessage-deflate",
  async ({ c }) => {
    const z = compress(new Uint8Array(64 * 1024)); // 64 KiB of zeros: a few dozen bytes
    assert.ok(z.length < 1024);
    await c.sendFrame({ opcode: OP.BINARY, payload: z, rsv: 4 });
    await expectCloseCode(c, 1009);
  },
  { maxMessage: 32 * 1024 },
);

deflateCase(
  "error: exactly --max-message after inflation is accepted",
  "permessage-deflate",
  async ({ c }) => {
    const data = new Uint8Array(32 * 1024).fill(0x41);
    await c.sendFrame({ opcode: OP.BINARY, payload: compress(data), rsv: 4 });
    const f = await frame(c);
    const inf = new ClientInflater();
    assert.deepEqual(inf.inflate(f.payload), data);
    inf.close();
    await c.sendFrame({ opcode: OP.CLOSE, payload: closePayload(1000) });
    await expectCloseCode(c, 1000);
  },
  { maxMessage: 32 * 1024 },
);

// --- the bomb -----------------------------------------------------------------------------------

Deno.test("bomb: 16 KiB inflating to 16 MiB+ is closed 1009 at the limit; memory given back", async () => {
  // 16 MiB of zeros compresses to ~16 KiB: each further copy of that frame's content is more.
  const zeros = new Uint8Array(16 * 1024 * 1024);
  const z = compress(zeros);
  assert.ok(z.length <= 17 * 1024, `${z.length}`);
  await withDenoServer({ ...BASE, maxMessage: 1024 * 1024 }, async (port, server) => {
    const { c } = await openWith(port, "permessage-deflate");
    try {
      await c.sendFrame({ opcode: OP.BINARY, payload: z, rsv: 4 });
      await expectCloseCode(c, 1009);
    } finally {
      c.close();
    }
    // The metrics show every byte counted against the budget given back.
    for (let i = 0; i < 100 && server.connectionCount > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.match(server.metricsText(), /wsecho_input_memory_bytes\{worker="0"\} 0\n/);
  });
});

Deno.test("bomb: inflated bytes count against --max-memory (1013 when it is short)", async () => {
  const z = compress(new Uint8Array(8 * 1024 * 1024));
  await withServer(
    { ...BASE, maxMessage: 16 * 1024 * 1024, maxMemory: 2 * 1024 * 1024 },
    async (port) => {
      const { c } = await openWith(port, "permessage-deflate");
      try {
        await c.sendFrame({ opcode: OP.BINARY, payload: z, rsv: 4 });
        await expectCloseCode(c, 1013);
      } finally {
        c.close();
      }
    },
  );
});
