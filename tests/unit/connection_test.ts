// WebSocketConnection over a fake socket: paths that real sockets reach only by bad luck.

import assert from "node:assert/strict";
import { WebSocketConnection } from "../../src/connection/connection.ts";
import { PeerGone, type Socket } from "../../src/connection/socket.ts";

Deno.test("connection: when the 101 cannot be written, open says so and close still resolves", async () => {
  let closed = false;
  const conn: Socket = {
    read: () => new Promise(() => {}), // the peer sends nothing
    write: () => Promise.reject(new PeerGone("reset")),
    closeWrite: () => Promise.resolve(),
    close() {
      closed = true;
    },
    remote: { hostname: "127.0.0.1", port: 1 },
  };
  const ws = new WebSocketConnection(conn, {
    options: { maxMessage: 1024, closeTimeout: 1000, maxBackpressure: 1024 },
  });
  assert.equal(await ws.open(new Uint8Array(10)), false);
  assert.equal(ws.state, "CONNECTING");
  const info = await ws.close(1011, "internal error");
  assert.equal(info.code, 1006, "no close frame was exchanged");
  assert.equal(info.clean, false);
  assert.equal(ws.state, "CLOSED");
  assert.ok(closed, "the socket is closed");
});
