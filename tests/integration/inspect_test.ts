import assert from "node:assert/strict";
import { INSPECT_PAYLOAD_BYTES } from "../../src/inspect.ts";
import { RawClient } from "../support/raw_client.ts";
import { withServer } from "../support/server.ts";

const dec = new TextDecoder();

async function json(c: RawClient): Promise<Record<string, unknown>> {
  const f = await c.frame();
  assert.equal(f?.opcode, 1, "an inspect report is a text frame");
  return JSON.parse(dec.decode(f!.payload));
}

Deno.test("/inspect reports the handshake computation first (RFC 6455 §1.3 example key)", async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.open(port, "/inspect"); // sends key dGhlIHNhbXBsZSBub25jZQ==
    const h = await json(c);
    assert.deepEqual(h, {
      type: "inspect",
      kind: "handshake",
      key: "dGhlIHNhbXBsZSBub25jZQ==",
      guid: "258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
      concatenated: "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
      sha1Hex: "b37a4f2cc0624f1690f64606cf385945b2bec4ea",
      accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      extensions: null,
    });
    c.close();
  });
});

Deno.test("/inspect reports each frame as it was on the wire, then echoes it", async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.open(port, "/inspect");
    await json(c); // handshake
    await c.sendFrame({ opcode: 1, payload: "Hi", maskKey: new Uint8Array([1, 2, 3, 4]) });
    const r = await json(c);
    assert.deepEqual(r, {
      type: "inspect",
      kind: "frame",
      direction: "in",
      fin: true,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode: 1,
      opcodeName: "text",
      mask: true,
      lengthEncoding: "7-bit",
      payloadLength: 2,
      headerBytes: 6,
      maskKey: "01020304",
      payloadMasked: "496b", // 'H' ^ 1, 'i' ^ 2
      payloadUnmasked: "4869",
      shownBytes: 2,
      truncated: false,
    });
    await json(c); // the echo's own report (tested below)
    const echo = await c.frame();
    assert.equal(echo?.opcode, 1);
    assert.equal(dec.decode(echo!.payload), "Hi");
    c.close();
  });
});

Deno.test("/inspect reports each echo frame the server sends, header bytes as on the wire", async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.open(port, "/inspect");
    await json(c); // handshake
    await c.sendFrame({ opcode: 1, payload: "Hi", maskKey: new Uint8Array([1, 2, 3, 4]) });
    assert.equal((await json(c)).direction, "in");
    const out = await json(c);
    assert.deepEqual(out, {
      type: "inspect",
      kind: "frame",
      direction: "out",
      fin: true,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode: 1,
      opcodeName: "text",
      mask: false,
      lengthEncoding: "7-bit",
      payloadLength: 2,
      headerBytes: 2,
      header: "8102", // FIN + text, MASK 0 + length 2
      payload: "4869",
      shownBytes: 2,
      truncated: false,
    });
    // The report describes the frame that follows it, byte for byte.
    const echo = await c.frame();
    assert.equal(echo?.opcode, 1);
    assert.equal(echo?.masked, false);
    assert.equal(dec.decode(echo!.payload), "Hi");

    // 16- and 64-bit lengths: the extended length in network order after 126 / 127.
    const cases = [[300, "827e012c"], [70_000, "827f0000000000011170"]] as const;
    for (const [size, header] of cases) {
      const payload = new Uint8Array(size).fill(7);
      await c.sendFrame({ opcode: 2, payload });
      assert.equal((await json(c)).direction, "in");
      const r = await json(c);
      assert.equal(r.direction, "out");
      assert.equal(r.opcodeName, "binary");
      assert.equal(r.header, header);
      assert.equal(r.headerBytes, header.length / 2);
      assert.equal(r.payloadLength, size);
      assert.equal(r.payload, "07".repeat(INSPECT_PAYLOAD_BYTES));
      assert.equal(r.truncated, true);
      assert.deepEqual((await c.frame())!.payload, payload);
    }
    c.close();
  });
});

Deno.test("/inspect: 16- and 64-bit lengths, truncated dumps, binary echoed byte-exact", async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.open(port, "/inspect");
    await json(c);
    for (const [size, encoding] of [[300, "16-bit"], [70_000, "64-bit"]] as const) {
      const payload = new Uint8Array(size).map((_, i) => i & 0xff);
      await c.sendFrame({ opcode: 2, payload, maskKey: new Uint8Array([9, 8, 7, 6]) });
      const r = await json(c);
      assert.equal(r.direction, "in");
      assert.equal(r.lengthEncoding, encoding);
      assert.equal(r.payloadLength, size);
      assert.equal(r.shownBytes, INSPECT_PAYLOAD_BYTES);
      assert.equal(r.truncated, true);
      assert.equal(
        r.payloadUnmasked,
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
      );
      assert.equal((await json(c)).direction, "out");
      const echo = await c.frame();
      assert.equal(echo?.opcode, 2);
      assert.deepEqual(echo!.payload, payload);
    }
    c.close();
  });
});

Deno.test("/ stays a plain echo: no reports", async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.open(port, "/");
    await c.sendFrame({ opcode: 1, payload: "plain" });
    const f = await c.frame();
    assert.equal(dec.decode(f!.payload), "plain");
    c.close();
  });
});
