// WebSocketConnection over a fake socket: paths that real sockets reach only by bad luck.

import assert from "node:assert/strict";
import { type ByteConn, SlabReader, TcpTransport } from "../../src/io/tcp_transport.ts";
import { WebSocketConnection } from "../../src/websocket/connection.ts";

Deno.test("connection: when the 101 cannot be written, open rejects and close still resolves", async () => {
  let closed = false;
  const conn: ByteConn = {
    read: () => new Promise(() => {}), // the peer sends nothing
    write: () => Promise.reject(new Deno.errors.ConnectionReset("reset")),
    closeWrite: () => Promise.resolve(),
    close() {
      closed = true;
    },
  };
  const ws = new WebSocketConnection(
    new TcpTransport(conn, new SlabReader(conn), new Uint8Array(0)),
    { maxMessageSize: 1024, closeTimeoutMs: 1000, maxBackpressure: 1024 },
  );
  await assert.rejects(ws.open(new Uint8Array(10)));
  assert.equal(ws.state, "CONNECTING");
  const info = await ws.close(1011, "internal error");
  assert.equal(info.code, 1006, "no close frame was exchanged");
  assert.equal(info.clean, false);
  assert.ok(closed, "the socket is closed");
});
