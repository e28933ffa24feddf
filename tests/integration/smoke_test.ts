import assert from "node:assert/strict";
import { RawClient } from "../support/raw_client.ts";
import { withServer } from "../support/server.ts";

Deno.test("echoes a text frame and closes cleanly over raw TCP", async () => {
  await withServer({}, async (port) => {
    const c = await RawClient.open(port);
    await c.sendFrame({ opcode: 1, payload: "hello" });
    const f = await c.frame();
    assert.equal(f?.opcode, 1);
    assert.equal(new TextDecoder().decode(f!.payload), "hello");
    await c.sendFrame({ opcode: 8, payload: new Uint8Array([0x03, 0xe8]) });
    const close = await c.frame();
    assert.equal(close?.opcode, 8);
    assert.deepEqual([...close!.payload], [0x03, 0xe8]);
    assert.equal(await c.frame(), null);
    c.close();
  });
});

Deno.test("Deno's WebSocket client gets its messages back", async () => {
  await withServer({}, async (port) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.binaryType = "arraybuffer";
    const got: unknown[] = [];
    const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
    await new Promise((resolve) => ws.onopen = resolve);
    ws.onmessage = (e) => {
      got.push(e.data);
      if (got.length === 2) ws.close(1000, "done");
    };
    ws.send("héllo");
    ws.send(new Uint8Array([1, 2, 3]));
    const ev = await closed;
    assert.equal(got[0], "héllo");
    assert.deepEqual(new Uint8Array(got[1] as ArrayBuffer), new Uint8Array([1, 2, 3]));
    assert.equal(ev.code, 1000);
    assert.equal(ev.wasClean, true);
  });
});
