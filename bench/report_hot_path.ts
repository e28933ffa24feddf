// Runs `deno bench --json bench/hot_path_bench.ts` and prints MB/s and frames/s per benchmark.
//
// usage: deno run --allow-run --allow-read bench/report_hot_path.ts [--filter PATTERN] [--raw FILE]
//   --filter  passed on to deno bench (a name substring or /regexp/)
//   --raw     also write deno bench's JSON output to FILE (needs --allow-write)
//
// Rates use the mean time per iteration ("avg") and, in brackets, the fastest ("min"): on a shared
// machine the mean moves with other load, the minimum much less. For "copy + push" benchmarks the
// time of the matching copy-only benchmark is subtracted first ("net").

import { NAMES, UNITS } from "./hot_path_fixtures.ts";

interface BenchStats {
  n: number;
  min: number;
  max: number;
  avg: number;
  p75: number;
  p99: number;
}

interface BenchRecord {
  group: string | null;
  name: string;
  baseline: boolean;
  results: { ok?: BenchStats; failed?: unknown }[];
}

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

const benchFile = new URL("./hot_path_bench.ts", import.meta.url).pathname;
const filter = arg("--filter");
const args = ["bench", "--json", ...(filter ? ["--filter", filter] : []), benchFile];
const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
  args,
  stdout: "piped",
  stderr: "piped",
}).output();
const text = new TextDecoder().decode(stdout);
const rawFile = arg("--raw");
if (rawFile) await Deno.writeTextFile(rawFile, text);
if (code !== 0 || text.trim() === "") {
  console.error(new TextDecoder().decode(stderr));
  console.error(`report_hot_path: deno ${args.join(" ")} exited with ${code}`);
  Deno.exit(1);
}

const report = JSON.parse(text) as { runtime: string; cpu: string; benches: BenchRecord[] };
const stats = new Map<string, BenchStats>();
for (const b of report.benches) {
  const ok = b.results[0]?.ok;
  if (ok) stats.set(b.name, ok);
  else console.error(`FAILED: ${b.name}: ${JSON.stringify(b.results[0]?.failed)}`);
}

function fmtTime(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(1)} ns`;
}

function fmtRate(x: number): string {
  if (!Number.isFinite(x) || x <= 0) return "-";
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)} G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return x.toFixed(0);
}

console.log(`${report.runtime}, ${report.cpu}; ${new Date().toISOString()}`);
console.log("MB/s = 10^6 bytes per second of payload (bytes copied for the copies); [from min]\n");
const header = [
  "benchmark".padEnd(70),
  "avg/iter".padStart(10),
  "net avg".padStart(10),
  "MB/s".padStart(9),
  "[min]".padStart(9),
  "frames/s".padStart(9),
  "[min]".padStart(9),
].join(" ");
console.log(header);
console.log("-".repeat(header.length));
let group: string | null | undefined;
for (const b of report.benches) {
  const s = stats.get(b.name);
  if (!s) continue;
  if (b.group !== group && group !== undefined) console.log("");
  group = b.group;
  const u = UNITS[b.name] ?? {};
  const sub = u.minus ? stats.get(u.minus) : undefined;
  const netAvg = sub ? s.avg - sub.avg : s.avg;
  const netMin = sub ? s.min - sub.min : s.min;
  const mbps = (ns: number) => u.bytes ? (u.bytes / ns) * 1e3 : NaN; // bytes/ns * 1e9 / 1e6
  const fps = (ns: number) => u.frames ? (u.frames / ns) * 1e9 : NaN;
  console.log([
    b.name.padEnd(70),
    fmtTime(s.avg).padStart(10),
    (sub ? fmtTime(netAvg) : "").padStart(10),
    (u.bytes ? mbps(netAvg).toFixed(0) : "-").padStart(9),
    (u.bytes ? mbps(netMin).toFixed(0) : "-").padStart(9),
    fmtRate(fps(netAvg)).padStart(9),
    fmtRate(fps(netMin)).padStart(9),
  ].join(" "));
}
const missing = Object.values(NAMES).filter((n) => !stats.has(n));
if (!filter && missing.length > 0) console.log(`\nnot measured: ${missing.join("; ")}`);
