// deno task soak — many real connections for minutes, every echo checked byte for byte.
//
// Starts wsecho (src/runtime/deno/main.ts, default flags) on a loopback port as a child process,
// then CONNS clients each send messages of random type and size (mostly small, some up to
// 1 MiB), fragmented at random, with pings between fragments, and check every echo and pong.
// Every 10 s and at the end it prints messages, bytes, mismatches, errors and the server's RSS.
// Exit status 1 if any byte differed or a connection failed.
//
// usage: deno task soak [--seconds 120] [--conns 200] [--port 9690] [--seed 1]
//   (--seconds at most 1800; loopback only)

import { RawClient } from "../tests/support/raw_client.ts";

function arg(name: string, def: number): number {
  const i = Deno.args.indexOf(name);
  const v = i >= 0 ? Number(Deno.args[i + 1]) : def;
  if (!Number.isInteger(v) || v < 0) {
    console.error(`soak: ${name} must be a whole number`);
    Deno.exit(2);
  }
  return v;
}

const seconds = Math.min(arg("--seconds", 120), 1800);
const conns = Math.min(arg("--conns", 200), 5000);
const port = arg("--port", 9690);
let seed = arg("--seed", 1) >>> 0 || 1;

function random(): number {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 4294967296;
}
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

const root = new URL("../", import.meta.url).pathname;
const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read=src",
    "src/runtime/deno/main.ts",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--log-level",
    "warn",
  ],
  cwd: root,
  stdin: "null",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();

// (ps, not /proc: Deno lets a script read /proc only with --allow-all.)
async function rssMiB(): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(server.pid)] })
    .output();
  return Number(new TextDecoder().decode(out.stdout).trim() || 0) / 1024;
}

const totals = { messages: 0, bytes: 0, pongs: 0, mismatches: 0, errors: 0 };
let peakRss = 0;
const deadline = performance.now() + seconds * 1000;

function payload(n: number, text: boolean): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = text ? int(0x20, 0x7e) : int(0, 255);
  return b;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// One client: a message at a time (fragmented, pings between), its echo checked.
async function client(id: number): Promise<void> {
  let c: RawClient;
  try {
    c = await RawClient.open(port);
  } catch (err) {
    totals.errors++;
    console.error(`soak: client ${id} could not connect: ${err}`);
    return;
  }
  try {
    while (performance.now() < deadline) {
      const k = int(0, 99);
      const size = k < 70 ? int(0, 200) : k < 95 ? int(200, 64 * 1024) : int(64 * 1024, 1 << 20);
      const text = random() < 0.5;
      const data = payload(size, text);
      const parts = int(1, 4);
      const pings: Uint8Array[] = [];
      let start = 0;
      for (let p = 0; p < parts; p++) {
        const end = p === parts - 1 ? size : int(start, size);
        await c.sendFrame({
          opcode: p === 0 ? (text ? 1 : 2) : 0,
          payload: data.subarray(start, end),
          fin: p === parts - 1,
        });
        start = end;
        if (p < parts - 1 && random() < 0.1) {
          const ping = payload(int(0, 125), false);
          pings.push(ping);
          await c.sendFrame({ opcode: 9, payload: ping });
        }
      }
      // Pongs come in order, before the echo (their pings came before the message ended).
      for (;;) {
        const f = await c.frame();
        if (f === null) throw new Error("the server closed the connection");
        if (f.opcode === 0xa) {
          if (!same(f.payload, pings.shift() ?? new Uint8Array(1))) totals.mismatches++;
          else totals.pongs++;
          continue;
        }
        if (f.opcode !== (text ? 1 : 2) || !same(f.payload, data) || pings.length > 0) {
          totals.mismatches++;
          console.error(`soak: client ${id}: echo differs (${size} bytes, opcode ${f.opcode})`);
        }
        totals.messages++;
        totals.bytes += size;
        break;
      }
    }
    await c.sendFrame({ opcode: 8, payload: new Uint8Array([0x03, 0xe8]) });
    await c.closeCode();
  } catch (err) {
    totals.errors++;
    console.error(`soak: client ${id}: ${err}`);
  } finally {
    c.close();
  }
}

// Wait for the server to listen.
for (let i = 0;; i++) {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    break;
  } catch {
    if (i > 100) {
      console.error(`soak: the server did not listen on ${port}`);
      server.kill("SIGKILL");
      await server.status;
      Deno.exit(2);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const rss0 = await rssMiB();
const t0 = performance.now();
console.log(
  `soak: ${conns} connections for ${seconds} s on 127.0.0.1:${port}; server RSS ${
    rss0.toFixed(1)
  } MiB`,
);
const report = setInterval(async () => {
  const rss = await rssMiB();
  peakRss = Math.max(peakRss, rss);
  const s = (performance.now() - t0) / 1000;
  console.log(
    `  ${s.toFixed(0)} s: ${totals.messages} messages (${
      (totals.bytes / 1048576).toFixed(1)
    } MiB), ` +
      `${totals.pongs} pongs, ${totals.mismatches} mismatches, ${totals.errors} errors, ` +
      `server RSS ${rss.toFixed(1)} MiB`,
  );
}, 10_000);
await Promise.all(Array.from({ length: conns }, (_, i) => client(i)));
clearInterval(report);
const elapsed = (performance.now() - t0) / 1000;
const rssEnd = await rssMiB();
server.kill("SIGTERM");
const status = await server.status;
console.log(
  `soak result: seconds=${elapsed.toFixed(0)} conns=${conns} messages=${totals.messages} ` +
    `bytes=${totals.bytes} msgs_per_s=${(totals.messages / elapsed).toFixed(0)} ` +
    `mib_per_s=${(totals.bytes / 1048576 / elapsed).toFixed(1)} pongs=${totals.pongs} ` +
    `mismatches=${totals.mismatches} errors=${totals.errors} rss_start_mib=${rss0.toFixed(1)} ` +
    `rss_peak_mib=${Math.max(peakRss, rssEnd).toFixed(1)} rss_end_mib=${rssEnd.toFixed(1)} ` +
    `server_exit=${status.code}`,
);
Deno.exit(totals.mismatches > 0 || totals.errors > 0 ? 1 : 0);
