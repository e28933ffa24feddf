// N clients that each send the first SENT bytes of a DECLARED-byte binary message (one masked
// frame) and then stall, holding their connections for HOLD seconds before leaving: the load of
// many large partial messages. Each connection ends up "held" (everything sent, still open when
// it leaves), "1013" (the server closed it with 1013), or "other" (any other close or error),
// as it stands at the end of the hold.
//
// usage: deno run --allow-net=127.0.0.1 bench/partial_client.ts --port P [--clients 30]
//          [--declared 16m] [--sent 8m] [--hold 5] [--timeout 120]
// Prints: partial_client clients=N held=H closed_1013=C other=O send_s=S
// exit status: 0 = ran (whatever the outcome), 2 = bad arguments.

function arg(name: string, def: string): number {
  const i = Deno.args.indexOf(name);
  const raw = i >= 0 ? Deno.args[i + 1] ?? "" : def;
  const m = /^(\d+)([km]?)$/i.exec(raw);
  if (m === null) {
    console.error(`partial_client: bad ${name} ${raw}`);
    Deno.exit(2);
  }
  return Number(m[1]) * { "": 1, k: 1024, m: 1024 ** 2 }[m[2].toLowerCase()]!;
}

const port = arg("--port", "0");
const clients = arg("--clients", "30");
const declared = arg("--declared", "16m");
const sent = arg("--sent", "8m");
const holdMs = arg("--hold", "5") * 1000;
const timeoutMs = arg("--timeout", "120") * 1000;
if (port < 1 || port > 65535 || clients < 1 || clients > 1000 || sent > declared) {
  console.error("partial_client: need --port 1..65535, --clients 1..1000, --sent <= --declared");
  Deno.exit(2);
}

const request = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
);
// Frame head: FIN, binary, masked (key 0: the payload goes as it is), 64-bit length.
const head = new Uint8Array(14);
head[0] = 0x82;
head[1] = 0x80 | 127;
new DataView(head.buffer).setBigUint64(2, BigInt(declared));
const body = new Uint8Array(sent).fill(0x5a);

type Outcome = "held" | "1013" | "other";

// Reads what the server sends: the 101 head, then frames; resolves with the close code seen.
async function watch(conn: Deno.TcpConn): Promise<number | null> {
  const buf = new Uint8Array(64 * 1024);
  let seen = new Uint8Array(0);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      return null;
    }
    if (n === null) return null;
    const all = new Uint8Array(seen.length + n);
    all.set(seen);
    all.set(buf.subarray(0, n), seen.length);
    seen = all;
    const text = new TextDecoder("latin1").decode(seen);
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    const frames = seen.subarray(end + 4);
    // The server sends nothing before its close frame here: 0x88, length, code.
    if (frames.length >= 4 && frames[0] === 0x88) return (frames[2] << 8) | frames[3];
  }
}

// One connection: sends its part of the message; resolves once it is sent or the server closed
// the connection. `code()` tells what the server has sent so far (undefined: nothing).
async function one(): Promise<
  { conn: Deno.TcpConn | null; code: () => number | null | undefined }
> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return { conn: null, code: () => null };
  }
  let closeCode: number | null | undefined;
  watch(conn).then((c) => closeCode = c);
  try {
    for (const part of [request, head, body]) {
      for (let done = 0; done < part.length;) {
        if (closeCode !== undefined) break;
        done += await conn.write(part.subarray(done));
      }
    }
  } catch {
    // the server closed under our write: its close frame says why
  }
  return { conn, code: () => closeCode };
}

function outcome(code: number | null | undefined): Outcome {
  return code === undefined ? "held" : code === 1013 ? "1013" : "other";
}

const t0 = performance.now();
const timer = setTimeout(() => {
  console.log(`partial_client timeout after ${timeoutMs / 1000} s`);
  Deno.exit(1);
}, timeoutMs);
const results = await Promise.all(Array.from({ length: clients }, one));
const sendS = (performance.now() - t0) / 1000;
// Bytes still in the kernel's buffers when a write returned reach the server during the hold:
// each connection's outcome is what it is at the end of the hold.
await new Promise((r) => setTimeout(r, holdMs));
const outcomes = results.map((r) => outcome(r.code()));
for (const r of results) {
  try {
    r.conn?.close();
  } catch { /* closed already */ }
}
clearTimeout(timer);
const count = (o: Outcome) => outcomes.filter((x) => x === o).length;
console.log(
  `partial_client clients=${clients} held=${count("held")} closed_1013=${count("1013")} ` +
    `other=${count("other")} send_s=${sendS.toFixed(1)}`,
);
