// The terminal client (src/client/, src/runtime/deno/client_main.ts) against the real server:
// lines echoed, binary, ping, close code and reason, frames drawn, subprotocols, refusals, a
// server that breaks the protocol, and the process itself with its exit status.

import assert from "node:assert/strict";
import {
  type ClientArgs,
  ClientExit,
  type ClientIo,
  parseClientArgs,
  runClient,
} from "../../src/client/cli.ts";
import { encodeMaskedFrame } from "../../src/protocol/frame_encoder.ts";
import { acceptKey } from "../../src/protocol/handshake.ts";
import { connect } from "../../src/runtime/deno/client_main.ts";
import { withServer } from "../support/server.ts";

const SHORT = { handshakeTimeout: 2000, closeTimeout: 500, pingInterval: 0 };

/** Runs the client in-process with `lines` as its input; collects stdout and stderr. */
async function run(args: string[], lines: string[]) {
  const out: (string | Uint8Array)[] = [];
  const err: string[] = [];
  const io: ClientIo = {
    connect: (a: ClientArgs) => connect(a),
    lines: (async function* () {
      yield* lines;
    })(),
    out: (l) => out.push(l),
    outBytes: (b) => out.push(b.slice()),
    err: (l) => err.push(l),
  };
  const status = await runClient(parseClientArgs(args), io);
  return { status, out, err: err.join("\n") };
}

Deno.test("client: lines go out as text, the echoes come back on stdout, exit 0", async () => {
  await withServer(SHORT, async (port) => {
    const r = await run([`ws://127.0.0.1:${port}/`], ["hello", "", "wörld ✓"]);
    assert.equal(r.status, ClientExit.Ok, r.err);
    assert.deepEqual(r.out, ["hello", "", "wörld ✓"]);
    assert.match(r.err, /^connected to ws:\/\/127\.0\.0\.1:\d+\/$/m);
    assert.match(r.err, /^closed: 1000 \(clean close, closed by the client\)$/m);
  });
});

Deno.test("client: --binary, --ping and --close CODE REASON", async () => {
  await withServer(SHORT, async (port) => {
    const r = await run(
      [`ws://127.0.0.1:${port}/`, "--binary", "--ping", "--close", "4000", "bye"],
      ["abc"],
    );
    assert.equal(r.status, ClientExit.Ok, r.err);
    assert.deepEqual(r.out, [new TextEncoder().encode("abc")]);
    assert.match(r.err, /^< pong \(13 bytes\)$/m);
    assert.match(r.err, /^closed: 4000 "bye" \(clean close, closed by the client\)$/m);
  });
});

Deno.test("client: --show-frames draws the masked frames sent and the unmasked echoes", async () => {
  await withServer(SHORT, async (port) => {
    const r = await run([`ws://127.0.0.1:${port}/`, "--show-frames"], ["hi"]);
    assert.equal(r.status, ClientExit.Ok, r.err);
    assert.match(r.err, /^> text frame, client → server\n> {3}FIN 1 .*MASK 1 {2}length 2 /m);
    assert.match(r.err, /^> {3}unmasked {4}68 69$/m);
    assert.match(r.err, /^< text frame, server → client\n< {3}FIN 1 .*MASK 0 {2}length 2 /m);
    assert.match(r.err, /^< {3}payload {5}68 69 {2}\(servers do not mask\)$/m);
    assert.match(r.err, /^< close frame, server → client$/m);
  });
});

Deno.test("client: an offered subprotocol is selected and reported", async () => {
  await withServer(SHORT, async (port) => {
    const r = await run([`ws://127.0.0.1:${port}/`, "--protocol", "chat"], []);
    assert.equal(r.status, ClientExit.Ok, r.err);
    assert.match(r.err, /^connected to .* \(subprotocol chat\)$/m);
  });
});

Deno.test("client: a refused upgrade or no server exits 1, naming why", async () => {
  await withServer(SHORT, async (port) => {
    const r = await run([`ws://127.0.0.1:${port}/nowhere`], []);
    assert.equal(r.status, ClientExit.ConnectFailed);
    assert.match(r.err, /the server answered HTTP\/1\.1 404 Not Found instead of 101/);
  });
  using l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const r = await run([`ws://127.0.0.1:${port}/`], []);
  assert.equal(r.status, ClientExit.ConnectFailed);
  assert.match(r.err, new RegExp(`^wsecho-client: cannot connect to 127\\.0\\.0\\.1:${port}: `));
});

Deno.test("client: a server that masks its frames is failed with 1002, exit 3", async () => {
  // A broken server: a correct 101, then a masked text frame, then it reads the client's close.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    using conn = await listener.accept();
    const buf = new Uint8Array(4096);
    const n = (await conn.read(buf))!;
    const key = /Sec-WebSocket-Key: (\S+)/i.exec(new TextDecoder().decode(buf.subarray(0, n)))![1];
    await conn.write(new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n\r\n`,
    ));
    await conn.write(encodeMaskedFrame(0x1, true, new TextEncoder().encode("x"), 0x11223344));
    assert.ok((await conn.read(buf))! >= 8, "the client's close frame (masked, with a code)");
    const mask = buf.subarray(2, 6);
    return (buf[6] ^ mask[0]) << 8 | (buf[7] ^ mask[1]);
  })();
  const r = await run([`ws://127.0.0.1:${listener.addr.port}/`], []);
  assert.equal(r.status, ClientExit.Abnormal);
  assert.match(r.err, /protocol error: server frame is masked/);
  assert.equal(await serving, 1002, "the client's close frame carries 1002");
});

Deno.test("client process: `deno task client` echoes stdin and exits 0", async () => {
  await withServer(SHORT, async (port) => {
    const deno = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
    const task = (deno.tasks.client as string).split(/\s+/);
    const child = new Deno.Command(Deno.execPath(), {
      args: [...task.slice(1), `ws://127.0.0.1:${port}/`],
      cwd: new URL("../../", import.meta.url),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode("one\ntwo\n"));
    await w.close();
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(new TextDecoder().decode(out.stdout), "one\ntwo\n");
    assert.match(stderr, /closed: 1000 \(clean close, closed by the client\)/);
  });
});
