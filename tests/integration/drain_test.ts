// The real server process (src/runtime/deno/main.ts, or bun/main.ts when tests/runtimes/ runs it
// on Bun) and its signals: SIGTERM drains (every message already sent is echoed, then close 1001,
// new upgrades refused), exits 0; a second signal (after a 1 s grace) exits at once.

import assert from "node:assert/strict";
import { REPEAT_GRACE_MS } from "../../src/runtime/deno/signals.ts";
import { closePayload, RawClient, upgradeRequest } from "../support/raw_client.ts";
import { mainCommand } from "../support/runtime.ts";
import { forEachLine } from "../support/lines.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A running `src/runtime/deno/main.ts`: its port, its JSON log events, and how to end it. */
interface Proc {
  child: Deno.ChildProcess;
  port: number;
  /** Every JSON log line so far (parsed), stdout only. */
  events: Record<string, unknown>[];
  /** Waits for exit; resolves with the status and the whole stderr. */
  done(): Promise<{ status: Deno.CommandStatus; stderr: string }>;
}

/** Starts the server with `args` after the permissions and reads its "listening" line. */
async function start(args: string[]): Promise<Proc> {
  const command = await mainCommand(["--host", "127.0.0.1", ...args]);
  const child = new Deno.Command(command.cmd, {
    args: command.args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const events: Record<string, unknown>[] = [];
  const listening = Promise.withResolvers<string>();
  // Both streams are read to their end whatever happens (the sanitizers want them consumed).
  const stdout = (async () => {
    await forEachLine(child.stdout, (line) => {
      try {
        const e = JSON.parse(line);
        events.push(e);
        if (e.event === "listening") listening.resolve(String(e.url));
      } catch { /* not a log line */ }
    });
    listening.reject(new Error("the server ended before it was listening"));
  })();
  const stderr = (async () => {
    let all = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) all += text;
    return all;
  })();
  const done = async () => {
    const status = await child.status;
    await stdout;
    return { status, stderr: await stderr };
  };
  let url: string;
  try {
    url = await listening.promise;
  } catch (err) {
    const { stderr: text } = await done();
    throw new Error(`${(err as Error).message}: ${text}`);
  }
  const port = Number(new URL(url.replace(/^ws/, "http")).port);
  assert.ok(port > 0, `no port in ${url}`);
  return { child, port, events, done };
}

/** Ends a process that a failed test left running. */
async function stop(p: Proc): Promise<void> {
  try {
    p.child.kill("SIGKILL");
  } catch { /* already gone */ }
  await p.done();
}

/** A free loopback port (for --workers, where port 0 would give each worker its own). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

async function status(port: number, request: string): Promise<string> {
  const c = await RawClient.connect(port);
  try {
    await c.send(request);
    const head = await c.reader.head();
    assert.ok(head !== null, "no response");
    await c.reader.rest();
    return head.split("\r\n", 1)[0];
  } finally {
    c.close();
  }
}

function codeOf(payload: Uint8Array): number {
  return payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
}

Deno.test("SIGTERM: messages already sent are echoed, then 1001, new upgrades get 503, exit 0", async () => {
  const p = await start(["--port", "0", "--drain-timeout", "2s"]);
  const a = await RawClient.open(p.port).catch(async (e) => {
    await stop(p);
    throw e;
  });
  let b: RawClient | null = null;
  try {
    // b will never answer the close frame: it keeps the drain running.
    b = await RawClient.open(p.port);
    const messages = Array.from({ length: 10 }, (_, i) => `message ${i} ${"x".repeat(i * 100)}`);
    for (const m of messages) await a.sendFrame({ opcode: 1, payload: m });
    p.child.kill("SIGTERM");

    const r = await a.closeCode();
    // (Compared last, so that a missing echo does not hide what the rest of the drain did.)
    const echoed = r.before.map((f) => new TextDecoder().decode(f.payload));
    assert.equal(r.code, 1001);
    assert.ok(r.eof, "TCP did not end after the close handshake");

    const close = await b.frame();
    assert.equal(close?.opcode, 8);
    assert.equal(codeOf(close!.payload), 1001);
    // The drain is under way (b has not answered): a new upgrade and /healthz get 503.
    assert.match(await status(p.port, upgradeRequest("/")), /^HTTP\/1\.1 503 /);
    assert.match(
      await status(p.port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
      /^HTTP\/1\.1 503 /,
    );
    // At the drain timeout the server drops b and exits 0.
    assert.equal(await b.frame(), null);
    const { status: st, stderr } = await p.done();
    assert.equal(st.code, 0, stderr);
    const events = p.events.map((e) => e.event);
    assert.ok(events.includes("drain_started"), `events: ${events}`);
    assert.ok(events.includes("drain_finished"), `events: ${events}`);
    assert.deepEqual(
      echoed,
      messages,
      `${echoed.length} of the ${messages.length} messages written before SIGTERM were echoed ` +
        `before the close frame 1001`,
    );
  } finally {
    a.close();
    b?.close();
    await stop(p);
  }
});

Deno.test("SIGTERM with no connections: exit 0", async () => {
  const p = await start(["--port", "0"]);
  try {
    // Right after the "listening" line: an orchestrator may stop the server that early.
    p.child.kill("SIGTERM");
    const { status: st, stderr } = await p.done();
    assert.equal(
      st.code,
      0,
      st.signal === "SIGTERM"
        ? "killed by SIGTERM's default action: no signal listener when 'listening' was logged"
        : stderr,
    );
    assert.equal(st.success, true);
  } finally {
    await stop(p);
  }
});

Deno.test("a second signal during the drain exits at once, non-zero", async () => {
  // A long drain that a silent client would hold for its whole 60 s.
  const p = await start(["--port", "0", "--drain-timeout", "60s", "--close-timeout", "60s"]);
  let c: RawClient | null = null;
  try {
    c = await RawClient.open(p.port);
    p.child.kill("SIGTERM");
    const close = await c.frame();
    assert.equal(close?.opcode, 8, "the drain did not start");
    assert.equal(codeOf(close!.payload), 1001);
    // (A signal within the grace period would be taken for a forwarded duplicate.)
    await new Promise((r) => setTimeout(r, REPEAT_GRACE_MS + 100));
    p.child.kill("SIGINT");
    const { status: st } = await p.done();
    assert.notEqual(st.code, 0);
    assert.equal(await c.frame(), null);
  } finally {
    c?.close();
    await stop(p);
  }
});

Deno.test("--workers 2: listens, echoes, and exits 0 on SIGTERM", async () => {
  const p = await start(["--port", String(freePort()), "--workers", "2"]);
  try {
    const listening = p.events.find((e) => e.event === "listening");
    assert.equal(listening?.workers, 2);
    // Several connections, so that (most likely) both workers serve some.
    for (let i = 0; i < 4; i++) {
      const c = await RawClient.open(p.port);
      try {
        await c.sendFrame({ opcode: 1, payload: `hello ${i}` });
        const f = await c.frame();
        assert.equal(new TextDecoder().decode(f!.payload), `hello ${i}`);
        await c.sendFrame({ opcode: 8, payload: closePayload(1000) });
        assert.equal((await c.closeCode()).code, 1000);
      } finally {
        c.close();
      }
    }
    p.child.kill("SIGTERM");
    const { status: st, stderr } = await p.done();
    assert.equal(st.code, 0, stderr);
  } finally {
    await stop(p);
  }
});
