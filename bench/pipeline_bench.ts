// The whole per-read path in-process, without sockets: a fake connection hands the server one
// chunk per read (one 20-byte masked text frame, or 16 of them) and swallows the writes, while
// the real echo loop runs over WebSocketConnection (decoder and encoder streams, session,
// write queue). What is left when the kernel is taken away: the JavaScript cost per message.
// Run: `deno bench bench/pipeline_bench.ts`.

import { WebSocketConnection } from "../src/connection/connection.ts";
import type { Socket } from "../src/connection/socket.ts";
import { echo } from "../src/echo.ts";
import { maskedFrames, SMALL_PAYLOAD } from "./hot_path_fixtures.ts";

const READS = 1000;

async function echoReads(framesPerRead: number): Promise<void> {
  const chunk = maskedFrames(framesPerRead, SMALL_PAYLOAD);
  let reads = 0;
  const conn: Socket = {
    read(p) {
      if (reads++ >= READS) return Promise.resolve(null);
      p.set(chunk);
      return Promise.resolve(chunk.length);
    },
    write: (p) => Promise.resolve(p.length),
    closeWrite: () => Promise.resolve(),
    close() {},
    remote: { hostname: "127.0.0.1", port: 1 },
  };
  const ws = new WebSocketConnection(conn, {
    options: { maxMessage: 1 << 24, closeTimeout: 1000, maxBackpressure: 1 << 20 },
  });
  await ws.open(new Uint8Array(1));
  await echo(ws);
}

Deno.bench({
  name: "echo 1,000 reads of 1 small frame (S1 shape)",
  group: "pipeline",
  baseline: true,
  async fn() {
    await echoReads(1);
  },
});

Deno.bench({
  name: "echo 1,000 reads of 16 small frames (S2 shape)",
  group: "pipeline",
  async fn() {
    await echoReads(16);
  },
});
