// What an idle WebSocket connection holds in the JavaScript heap: wsecho started in this
// process, N idle connections opened by `wsload --connect-only`, then (after a full GC) the
// heap and external memory per connection, and a heap snapshot's objects counted per
// connection by kind. S5 measures RSS; this says which objects it is made of.
// Run: deno run -A --v8-flags=--expose-gc bench/idle_heap.ts [CONNS (5000)] [TOP (25)]
// (WSLOAD_DIR as for bench/load.sh; the snapshot is written to a temporary file and removed.)

import v8 from "node:v8";
import { defaultConfig } from "../src/config.ts";
import { startDeno } from "../src/runtime/deno/start.ts";

const conns = Number(Deno.args[0] ?? 5000);
const top = Number(Deno.args[1] ?? 25);
const wsloadDir = Deno.env.get("WSLOAD_DIR") ??
  new URL("../../shared/tools/wsload", import.meta.url).pathname;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

const server = await startDeno({
  ...defaultConfig(),
  host: "127.0.0.1",
  port: 0,
  maxConnections: conns + 100,
  maxConnectionsPerIp: 0,
});
const usage = () => {
  gc();
  const m = Deno.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
};
const before = usage();
const hold = 10;
const load = new Deno.Command(`${wsloadDir}/wsload`, {
  args: [
    "-p",
    String(server.addr.port),
    "-c",
    String(conns),
    "--connect-only",
    "-d",
    String(hold),
    "-q",
  ],
  stdout: "piped",
}).spawn();
await new Promise((resolve) => setTimeout(resolve, (hold / 2) * 1000));
const held = usage();
console.log(
  `${conns} idle connections: heap ${((held.heap - before.heap) / conns).toFixed(0)} B, ` +
    `external ${((held.external - before.external) / conns).toFixed(0)} B per connection`,
);

const file = await Deno.makeTempFile({ suffix: ".heapsnapshot" });
try {
  v8.writeHeapSnapshot(file);
  const snap = JSON.parse(await Deno.readTextFile(file));
  const meta = snap.snapshot.meta;
  const width = meta.node_fields.length;
  const type = meta.node_fields.indexOf("type"), name = meta.node_fields.indexOf("name");
  const size = meta.node_fields.indexOf("self_size");
  const kinds = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const t: string = meta.node_types[0][snap.nodes[i + type]];
    const n: string = snap.strings[snap.nodes[i + name]];
    const kind = t === "object" || t === "closure" || t === "native"
      ? `${t} ${n.slice(0, 40)}`
      : `(${t})`;
    const k = kinds.get(kind) ?? { count: 0, bytes: 0 };
    k.count++;
    k.bytes += snap.nodes[i + size];
    kinds.set(kind, k);
  }
  console.log("bytes/conn  objects/conn  kind (whole heap, divided by the connections)");
  for (const [kind, k] of [...kinds].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)) {
    console.log(
      String(Math.round(k.bytes / conns)).padStart(10),
      (k.count / conns).toFixed(2).padStart(13),
      "",
      kind,
    );
  }
} finally {
  await Deno.remove(file);
}
await load.output();
await server.close();
