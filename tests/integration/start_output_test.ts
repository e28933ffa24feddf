// What a person sees when starting wsecho: --version, the one start line (text or JSON), the
// start errors that name what failed with their exit status, and the per-connection debug events.

import assert from "node:assert/strict";
import { clientFrame, RawClient } from "../support/raw_client.ts";
import { runMain, spawnMain } from "../support/main_process.ts";
import { VERSION } from "../../src/version.ts";

Deno.test("--version prints wsecho's and Deno's versions and exits 0", async () => {
  const r = await runMain(["--version"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out,
    `wsecho ${VERSION} (deno ${Deno.version.deno}, v8 ${Deno.version.v8}, ` +
      `typescript ${Deno.version.typescript})\n`,
  );
});

Deno.test("text log format: one start line with the page and echo URLs", async () => {
  const p = spawnMain(["--host", "127.0.0.1", "--port", "0", "--log-format", "text"]);
  const line = await p.waitFor((l) => l.includes("listening"));
  const m =
    /^\d\d:\d\d:\d\d\.\d{3} info {2}wsecho (\S+) listening on 127\.0\.0\.1:(\d+): page (\S+) {2}echo (\S+)$/
      .exec(line);
  assert.ok(m !== null, line);
  assert.equal(m[1], VERSION);
  assert.equal(m[3], `http://127.0.0.1:${m[2]}/`);
  assert.equal(m[4], `ws://127.0.0.1:${m[2]}/`);
  const { code } = await p.stop();
  assert.equal(code, 0);
  // listening, stopping (by SIGTERM), drain_started, drain_finished
  assert.equal(p.lines.length, 4, p.lines.join("\n"));
});

Deno.test("JSON log format (the default off a terminal): the listening event's fields", async () => {
  const p = spawnMain(["--port", "0"]);
  const e = JSON.parse(await p.waitFor((l) => l.includes('"listening"')));
  const port = Number(new URL(e.url.replace(/^ws/, "http")).port);
  assert.equal(e.url, `ws://0.0.0.0:${port}/`);
  assert.equal(e.page, `http://127.0.0.1:${port}/`, "0.0.0.0 is reached at loopback");
  assert.equal(e.echo, `ws://127.0.0.1:${port}/`);
  assert.equal(e.summary, undefined, "the text summary is not in the JSON");
  assert.equal((await p.stop()).code, 0);
});

Deno.test("start errors: a port in use names host:port, exit 3", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const r = await runMain(["--host", "127.0.0.1", "--port", String(port)]);
  assert.equal(r.code, 3);
  assert.equal(r.out, "");
  assert.equal(
    r.err,
    `wsecho: cannot listen on 127.0.0.1:${port}: the address is in use (another process ` +
      "listens there; choose another --port / PORT)\n",
  );
});

Deno.test("start errors: a HOST that does not resolve is named, exit 3", async () => {
  const r = await runMain(["--host", "no-such-host.invalid", "--port", "0"]);
  assert.equal(r.code, 3, r.err);
  assert.equal(r.err.trim().split("\n").length, 1, r.err);
  assert.match(
    r.err,
    /^wsecho: cannot listen on no-such-host\.invalid:0: the host "no-such-host\.invalid" does not resolve \(--host \/ HOST\)/,
  );
});

Deno.test("start errors: --cert without --key is a bad option, exit 2", async () => {
  const r = await runMain(["--cert", "x.pem"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--cert and --key/);
});

Deno.test("--log-level debug: connection opened, protocol error with its position, closed", async () => {
  const p = spawnMain(["--host", "127.0.0.1", "--port", "0", "--log-level", "debug"]);
  const e = JSON.parse(await p.waitFor((l) => l.includes('"listening"')));
  const port = Number(new URL(e.url.replace(/^ws/, "http")).port);
  const c = await RawClient.open(port, "/");
  const good = clientFrame({ opcode: 1, payload: "hello" }); // 11 bytes
  await c.send(good);
  assert.equal(new TextDecoder().decode((await c.frame())!.payload), "hello");
  await c.send(clientFrame({ opcode: 1, payload: "bad", mask: false })); // 5 bytes, unmasked
  assert.equal((await c.closeCode()).code, 1002);
  c.close();
  const events = async (name: string) =>
    JSON.parse(await p.waitFor((l) => l.includes(`"event":"${name}"`)));
  const opened = await events("connection_opened");
  assert.equal(opened.path, "/");
  assert.match(opened.remote, /^127\.0\.0\.1:\d+$/);
  const error = await events("protocol_error");
  assert.equal(error.close_code, 1002);
  assert.equal(error.reason, "client frame is not masked");
  // Where: bytes read when it was found (the bad frame came in a read of its own: 11 + 5).
  assert.equal(error.at_byte, good.length + 5);
  const closed = await events("connection_closed");
  assert.equal(closed.close_code, 1002);
  assert.equal(closed.id, opened.id);
  assert.equal((await p.stop()).code, 0);
});
