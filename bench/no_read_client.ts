// A WebSocket client that sends masked binary frames as fast as the server takes them and never
// reads a byte after the handshake: the echoes pile up, and a server that applies backpressure
// stops reading from this client, so our writes stall. That stall is the correct outcome; a
// server that keeps reading (and buffering its echoes) lets all of --total through.
//
// usage: deno run --allow-net=127.0.0.1 bench/no_read_client.ts --port P
//          [--total 256m] [--size 64k] [--stall 5] [--timeout 120]
//   --total    bytes of payload to send at most        --size     payload bytes per message
//   --stall    seconds a write may hang before we call it a stall and stop
//   --timeout  seconds for the whole run
// Prints a human line and a machine line:
//   no_read_client result=stalled|complete|closed|timeout sent_bytes=N payload_bytes=N ...
//   (sent_bytes: bytes the kernel accepted, frame headers included; payload_bytes: whole messages)
// exit status: 0 = ran (whatever the result), 2 = could not connect or handshake failed.

const MASK = [0x37, 0xfa, 0x21, 0x3d];

function sizeArg(name: string, def: string): number {
  const i = Deno.args.indexOf(name);
  const raw = i >= 0 ? Deno.args[i + 1] ?? "" : def;
  const m = /^(\d+(?:\.\d+)?)([kmg]?)$/i.exec(raw);
  if (m === null) {
    console.error(`no_read_client: bad ${name} ${raw}`);
    Deno.exit(2);
  }
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()]!;
  return Math.round(Number(m[1]) * unit);
}

const port = sizeArg("--port", "");
const total = sizeArg("--total", "256m");
const size = sizeArg("--size", "64k");
const stallMs = sizeArg("--stall", "5") * 1000;
const timeoutMs = sizeArg("--timeout", "120") * 1000;
if (port < 1 || port > 65535 || size < 1) {
  console.error("no_read_client: need --port 1..65535 and --size >= 1");
  Deno.exit(2);
}

/** A client frame: FIN, binary, masked with MASK, `size` payload bytes. */
function frame(size: number): Uint8Array {
  const head = size < 126 ? 2 : size < 0x10000 ? 4 : 10;
  const f = new Uint8Array(head + 4 + size);
  f[0] = 0x82;
  if (size < 126) f[1] = 0x80 | size;
  else if (size < 0x10000) {
    f[1] = 0x80 | 126;
    f[2] = size >>> 8;
    f[3] = size & 0xff;
  } else {
    f[1] = 0x80 | 127;
    new DataView(f.buffer).setBigUint64(2, BigInt(size));
  }
  f.set(MASK, head);
  for (let i = 0; i < size; i++) f[head + 4 + i] = (i & 0xff) ^ MASK[i & 3];
  return f;
}

function delay(ms: number): { promise: Promise<"timer">; cancel: () => void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timer">((resolve) => {
    id = setTimeout(() => resolve("timer"), ms);
  });
  return { promise, cancel: () => clearTimeout(id) };
}

async function handshake(conn: Deno.TcpConn): Promise<void> {
  const keyBytes = crypto.getRandomValues(new Uint8Array(16));
  const key = btoa(String.fromCharCode(...keyBytes));
  const req = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  const bytes = new TextEncoder().encode(req);
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
  // Read the response head byte-wise-bounded: at most 8 KiB, at most 5 s.
  const buf = new Uint8Array(8192);
  let have = 0;
  const timer = delay(5000);
  try {
    while (have < buf.length) {
      const r = await Promise.race([conn.read(buf.subarray(have)), timer.promise]);
      if (r === "timer") throw new Error("no handshake response within 5 s");
      if (r === null) throw new Error("connection closed during the handshake");
      have += r;
      const head = new TextDecoder().decode(buf.subarray(0, have));
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) continue;
      if (!/^HTTP\/1\.1 101 /.test(head)) {
        throw new Error(`handshake refused: ${head.split("\r\n")[0]}`);
      }
      const digest = await crypto.subtle.digest(
        "SHA-1",
        new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
      );
      const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
      if (
        !new RegExp(`\r\nsec-websocket-accept: *${accept.replace(/[+/=]/g, "\\$&")}\r\n`, "i").test(
          head,
        )
      ) {
        throw new Error("wrong Sec-WebSocket-Accept");
      }
      if (have > end + 4) throw new Error("server sent frames before we sent any");
      return;
    }
    throw new Error("response head over 8 KiB");
  } finally {
    timer.cancel();
  }
}

let conn: Deno.TcpConn;
try {
  conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await handshake(conn);
} catch (err) {
  console.error(`no_read_client: ${(err as Error).message}`);
  Deno.exit(2);
}

const msg = frame(size);
const t0 = performance.now();
let sentWire = 0; // bytes the kernel accepted, headers included
let messages = 0;
let result: "stalled" | "complete" | "closed" | "timeout" = "complete";
let detail = "";
let lastProgress = t0;

outer: while (messages * size < total) {
  let at = 0;
  while (at < msg.length) {
    if (performance.now() - t0 > timeoutMs) {
      result = "timeout";
      break outer;
    }
    const write = conn.write(msg.subarray(at));
    write.catch(() => {}); // a write still pending when we close rejects; nobody cares then
    const timer = delay(stallMs);
    let r: number | "timer";
    try {
      r = await Promise.race([write, timer.promise]);
    } catch (err) {
      result = "closed";
      detail = (err as Error).message;
      break outer;
    } finally {
      timer.cancel();
    }
    if (r === "timer") {
      result = "stalled";
      break outer;
    }
    at += r;
    sentWire += r;
    lastProgress = performance.now();
  }
  messages++;
}
const elapsed = (performance.now() - t0) / 1000;
try {
  conn.close();
} catch { /* already closed */ }

const activeS = (lastProgress - t0) / 1000;
console.log(
  `no_read_client: ${result}${detail ? ` (${detail})` : ""}: ${
    (sentWire / 2 ** 20).toFixed(1)
  } MiB written (${messages} whole ${size}-byte messages) in ${activeS.toFixed(2)} s` +
    (result === "stalled" ? `, then no write progress for ${stallMs / 1000} s` : ""),
);
console.log(
  `no_read_client result=${result} stalled=${
    result === "stalled" ? 1 : 0
  } sent_bytes=${sentWire} ` +
    `payload_bytes=${messages * size} messages=${messages} size=${size} total=${total} ` +
    `active_s=${activeS.toFixed(3)} elapsed_s=${elapsed.toFixed(3)} ` +
    `mib_per_s=${activeS > 0 ? (sentWire / 2 ** 20 / activeS).toFixed(1) : "-"}`,
);
Deno.exit(0);
