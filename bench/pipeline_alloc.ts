// Bytes the JavaScript heap allocates per echoed message on the in-process echo path (the
// fake socket of pipeline_bench.ts), and which functions allocate them: V8's sampling heap
// profiler through node:inspector, counting objects collected since. Garbage per message is
// what the young generation's collections cost; this says where it comes from.
// Run: deno run --allow-read --allow-sys bench/pipeline_alloc.ts [FRAMES_PER_READ (1)] [TOP (20)]

import { Session } from "node:inspector";
import { echoReads } from "./hot_path_fixtures.ts";

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const framesPerRead = Number(Deno.args[0] ?? 1);
const top = Number(Deno.args[1] ?? 20);
const READS = 100_000;

const session = new Session();
session.connect();
function post<T>(method: string, params: object = {}): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(
      method,
      params,
      (err: Error | null, result?: object) => err ? reject(err) : resolve(result as T),
    )
  );
}

await echoReads(framesPerRead, 20_000); // warm up: optimized code, as under load
await post("HeapProfiler.enable");
await post("HeapProfiler.startSampling", {
  samplingInterval: 256,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
await echoReads(framesPerRead, READS);
const { profile } = await post<{ profile: { head: ProfileNode } }>("HeapProfiler.stopSampling");

const bytes = new Map<string, number>();
const walk = (node: ProfileNode): void => {
  const f = node.callFrame;
  const name = `${f.functionName || "(anonymous)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
  if (node.selfSize > 0) bytes.set(name, (bytes.get(name) ?? 0) + node.selfSize);
  node.children.forEach(walk);
};
walk(profile.head);
const messages = READS * framesPerRead;
let total = 0;
for (const b of bytes.values()) total += b;
console.log(
  `${framesPerRead} frame(s) per read: ~${
    Math.round(total / messages)
  } bytes allocated per message (sampled)`,
);
for (const [name, b] of [...bytes].sort((x, y) => y[1] - x[1]).slice(0, top)) {
  console.log(String(Math.round(b / messages)).padStart(7), name);
}
