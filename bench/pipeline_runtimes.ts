// The whole per-read echo path in-process, as bench/pipeline_bench.ts, but timed by hand so that
// the same file runs on Deno and on Bun: what the core's JavaScript costs per read on each
// engine (V8, JavaScriptCore), without sockets.
// Run: `deno run bench/pipeline_runtimes.ts` and `npx -y bun@1.4.5 bench/pipeline_runtimes.ts`.

import { echoReads } from "./hot_path_fixtures.ts";

const READS = 20_000;

const runtime = "Bun" in globalThis ? "bun" : "deno";
for (const frames of [1, 16]) {
  await echoReads(frames, READS); // warm-up
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await echoReads(frames, READS);
    times.push((performance.now() - t0) * 1000 / READS);
  }
  times.sort((a, b) => a - b);
  console.log(
    `${runtime}: ${frames} frame(s) per read: ${times[2].toFixed(2)} us per read ` +
      `(median of 5 x ${READS} reads; ${(times[2] / frames).toFixed(3)} us per message)`,
  );
}
