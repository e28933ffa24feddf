// The whole per-read path in-process, without sockets: a fake connection hands the server one
// chunk per read (one 20-byte masked text frame, or 16 of them) and swallows the writes, while
// the real echo loop runs over WebSocketConnection (decoder and encoder streams, session,
// write queue). What is left when the kernel is taken away: the JavaScript cost per message.
// Run: `deno bench bench/pipeline_bench.ts`.

import { maskWith64BitWords } from "../src/protocol/mask.ts";
import { echoReads } from "./hot_path_fixtures.ts";

maskWith64BitWords(); // as wsecho on Deno runs it (src/runtime/deno/start.ts)

// Enough per iteration that a connection's setup and the collections it triggers average out.
const READS = 10_000;

Deno.bench({
  name: "echo 10,000 reads of 1 small frame (S1 shape)",
  group: "pipeline",
  baseline: true,
  async fn() {
    await echoReads(1, READS);
  },
});

Deno.bench({
  name: "echo 10,000 reads of 16 small frames (S2 shape)",
  group: "pipeline",
  async fn() {
    await echoReads(16, READS);
  },
});

Deno.bench({
  name: "echo 100 reads of 1 small frame on each of 100 connections at once (S1, 100 conns)",
  group: "pipeline",
  async fn() {
    // Interleaved: every connection's objects are touched in turn, as under S1's load.
    await Promise.all(Array.from({ length: 100 }, () => echoReads(1, READS / 100)));
  },
});
