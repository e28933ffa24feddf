// Server memory with permessage-deflate (run under the CPU lock; see bench/README.md):
//
// (a) idle: a fresh wsecho per mode; CONNS connections each offer permessage-deflate (or not),
//     send one compressed 1 KiB JSON-like text message, read its echo, then stay idle. Reported:
//     (VmRSS after settling - VmRSS of the fresh server) / CONNS, per mode: no compression,
//     compression without context takeover (the default), with context takeover.
// (b) bomb: a fresh wsecho (--max-message 16m) gets one client that sends a single compressed
//     frame of about 1 MiB that inflates to 1 GiB, and one of 16 KiB (16 MiB); the close code and
//     the server's peak RSS (VmHWM) are reported.
//
// usage: deno run -A bench/deflate_memory.ts [--conns N] [--port P]

import zlib from "node:zlib";
import { RawClient, upgradeRequest } from "../tests/support/raw_client.ts";

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) args.set(Deno.args[i], Deno.args[i + 1]);
const CONNS = Number(args.get("--conns") ?? 10000);
const PORT = Number(args.get("--port") ?? 9750);
const CONCURRENCY = 200;
const root = new URL("..", import.meta.url).pathname;

/** Reads one status field of /proc/PID/status, in KiB. */
function status(pid: number, field: string): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)![1]);
}

function startServer(port: number, extra: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "--allow-net",
      "--allow-env",
      "--allow-read=src",
      "src/runtime/deno/main.ts",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--log-level",
      "error",
      "--ping-interval",
      "0",
      "--max-connections",
      String(CONNS + 100),
      ...extra,
    ],
    cwd: root,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (err) {
      if (!(err instanceof Deno.errors.ConnectionRefused)) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error("server did not start");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function frameOf(opcode: number, payload: Uint8Array, rsv1: boolean): Uint8Array {
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + ext + 4 + n);
  out[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  out[1] = 0x80 | (ext === 0 ? n : ext === 2 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (ext === 2) view.setUint16(2, n);
  if (ext === 8) view.setBigUint64(2, BigInt(n));
  out.set(payload, 2 + ext + 4); // mask key 0: payload as is
  return out;
}

function jsonText(i: number): Uint8Array {
  const parts: string[] = [];
  let s = "";
  for (let k = 0; s.length < 1000; k++) {
    parts.push(`"field${k}":{"id":${i * 31 + k},"name":"item-${k}","active":${k % 2 === 0}}`);
    s = "{" + parts.join(",") + "}";
  }
  return new TextEncoder().encode(s.slice(0, 1024));
}

function compress(data: Uint8Array): Uint8Array {
  const z = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return new Uint8Array(z.buffer, z.byteOffset, z.length - 4);
}

async function openOne(port: number, offer: string | null, i: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  const extra: Record<string, string> = {};
  if (offer !== null) extra["Sec-WebSocket-Extensions"] = offer;
  await c.send(upgradeRequest("/", extra));
  const head = await c.reader.head();
  if (head === null || !head.startsWith("HTTP/1.1 101")) throw new Error(`no 101: ${head}`);
  const agreed = /sec-websocket-extensions:/i.test(head);
  const data = jsonText(i);
  await c.send(agreed ? frameOf(1, compress(data), true) : frameOf(1, data, false));
  const echo = await c.frame();
  if (echo === null || echo.opcode !== 1) {
    c.close();
    const code = echo !== null && echo.opcode === 8 && echo.payload.length >= 2
      ? ` close ${(echo.payload[0] << 8) | echo.payload[1]} ` +
        new TextDecoder().decode(echo.payload.subarray(2))
      : "";
    throw new Error(
      echo === null ? "no echo: TCP ended" : `no echo: opcode ${echo.opcode}${code}`,
    );
  }
  return c;
}

async function idle(mode: string, offer: string | null, extra: string[]): Promise<void> {
  const server = startServer(PORT, extra);
  try {
    await waitListening(PORT);
    await sleep(500);
    const before = status(server.pid, "VmRSS");
    const clients: RawClient[] = [];
    const failures: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < CONNS) {
          const i = next++;
          try {
            clients.push(await openOne(PORT, offer, i));
          } catch (err) {
            failures.push((err as Error).message); // counted and reported, not fatal
          }
        }
      }),
    );
    // The lowest RSS over 5 s: garbage the server has not collected yet is not its footprint.
    let after = Infinity;
    for (let i = 0; i < 10; i++) {
      await sleep(500);
      after = Math.min(after, status(server.pid, "VmRSS"));
    }
    console.log(
      `idle mode=${mode} conns=${clients.length} failed=${failures.length} ` +
        `rss_before_kib=${before} rss_after_kib=${after} ` +
        `per_conn_bytes=${Math.round(((after - before) * 1024) / clients.length)}` +
        (failures.length > 0 ? ` first_failure="${failures[0]}"` : ""),
    );
    for (const c of clients) c.close();
  } finally {
    server.kill("SIGKILL");
    await server.status;
  }
}

async function bombPayload(totalBytes: number): Promise<Uint8Array> {
  const d = zlib.createDeflateRaw({ level: 9 });
  const chunks: Uint8Array[] = [];
  d.on("data", (c: Uint8Array) => chunks.push(c));
  const zeros = new Uint8Array(16 * 1024 * 1024);
  for (let done = 0; done < totalBytes; done += zeros.length) {
    if (!d.write(zeros)) await new Promise((r) => d.once("drain", r));
  }
  await new Promise((r) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => r(null)));
  d.close();
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all.subarray(0, all.length - 4);
}

async function bomb(label: string, inflated: number): Promise<void> {
  const payload = inflated <= 16 * 1024 * 1024
    ? compress(new Uint8Array(inflated))
    : await bombPayload(inflated);
  const server = startServer(PORT + 1, ["--max-message", "16m"]);
  try {
    await waitListening(PORT + 1);
    await sleep(500);
    const before = status(server.pid, "VmRSS");
    const c = await RawClient.connect(PORT + 1);
    await c.send(upgradeRequest("/", { "Sec-WebSocket-Extensions": "permessage-deflate" }));
    await c.reader.head();
    await c.send(frameOf(2, payload, true));
    const r = await c.closeCode();
    c.close();
    await sleep(200);
    console.log(
      `bomb ${label} frame_bytes=${payload.length} would_inflate_to=${inflated} close=${r.code} ` +
        `rss_before_kib=${before} peak_rss_kib=${status(server.pid, "VmHWM")}`,
    );
  } finally {
    server.kill("SIGKILL");
    await server.status;
  }
}

const parts = (args.get("--parts") ?? "idle,bomb").split(",");
if (parts.includes("idle")) {
  await idle("uncompressed", null, []);
  await idle("deflate-no-context-takeover", "permessage-deflate; client_max_window_bits", []);
  await idle("deflate-context-takeover", "permessage-deflate; client_max_window_bits", [
    "--deflate-context-takeover",
    "on",
  ]);
}
if (parts.includes("bomb")) {
  await bomb("16KiB", 16 * 1024 * 1024 + 512 * 1024);
  await bomb("1GiB", 1024 * 1024 * 1024);
}
