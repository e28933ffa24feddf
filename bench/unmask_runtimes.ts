// applyMask on 1 MiB, on whichever runtime runs this file: microseconds per MiB with 32-bit and
// 64-bit words, so that the choice src/runtime/deno/start.ts makes can be checked on each runtime.
// Run: deno run bench/unmask_runtimes.ts [32|64]   |   npx -y bun@1.4.5 bench/unmask_runtimes.ts [32|64]
// One word size per process gives the figure a server sees (it only ever runs one of the loops).
// On Bun the 64-bit loop takes milliseconds per MiB: that run takes a few seconds.

import process from "node:process";
import { applyMask, maskWith64BitWords } from "../src/protocol/mask.ts";

const KEY = 0x37fa213d;

const MIB = 1 << 20;

// The best of 5 batches of `rounds` over 1 MiB (after as many to warm up), in microseconds.
function timePerMiB(rounds: number): number {
  const data = new Uint8Array(MIB);
  for (let i = 0; i < rounds; i++) applyMask(data, KEY, i & 3);
  let best = Infinity;
  for (let batch = 0; batch < 5; batch++) {
    const start = performance.now();
    for (let i = 0; i < rounds; i++) applyMask(data, KEY, i & 3);
    best = Math.min(best, (performance.now() - start) * 1000 / rounds);
  }
  return best;
}

const only = Number(process.argv[2]);
for (const bits of only === 32 || only === 64 ? [only] : [32, 64]) {
  maskWith64BitWords(bits === 64);
  const us = timePerMiB(50);
  console.log(
    `${bits}-bit words: ${us.toFixed(1)} us per MiB (${(MIB / us / 1000).toFixed(1)} GB/s)`,
  );
}
