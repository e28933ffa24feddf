// Subprotocols over a real socket: a client that offers some gets the first of them by default
// (Chromium fails a 101 that selects none of its offers; Deno's WebSocket accepts it, as RFC 6455
// allows), and `--protocols` restricts the choice.

import assert from "node:assert/strict";
import { withServer } from "../support/server.ts";

const SHORT = { handshakeTimeout: 2000, closeTimeout: 500, pingInterval: 0 };

/** Opens a WebSocket offering `protocols`; resolves with the selected one, or the failure. */
async function offer(port: number, protocols: string[]): Promise<string | Error> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, protocols);
  const closed = new Promise<void>((resolve) => ws.onclose = () => resolve());
  const opened = await new Promise<string | Error>((resolve) => {
    ws.onopen = () => resolve(ws.protocol);
    ws.onerror = (e) => resolve(new Error((e as ErrorEvent).message ?? "error"));
  });
  if (typeof opened === "string") {
    // Echo one message so that the selected protocol is known to carry traffic.
    const echoed = new Promise((resolve) => ws.onmessage = (e) => resolve(e.data));
    ws.send("hello");
    assert.equal(await echoed, "hello");
    ws.close(1000);
  }
  await closed;
  return opened;
}

Deno.test("subprotocols: by default the client's first offer is selected", async () => {
  await withServer(SHORT, async (port) => {
    assert.equal(await offer(port, ["chat", "superchat"]), "chat");
    assert.equal(await offer(port, []), "");
  });
});

Deno.test("subprotocols: --protocols restricts the choice to its list", async () => {
  await withServer({ ...SHORT, protocols: ["superchat"] }, async (port) => {
    assert.equal(await offer(port, ["chat", "superchat"]), "superchat");
    // None of the offers is allowed: the 101 selects none (a browser then fails the connection).
    assert.equal(await offer(port, ["chat"]), "");
  });
});
