// The process as an operator runs it: start errors with --workers, stopping through launchers
// (a shell like the one npx runs, deno task), Ctrl-C's duplicate SIGINT, and the close timeout
// during a drain. Real processes; each test has a hang guard (a kill after GUARD_MS that makes
// the test fail instead of hanging), never a timing assertion.

import assert from "node:assert/strict";
import { REPEAT_GRACE_MS } from "../../src/runtime/deno/signals.ts";
import { RawClient } from "../support/raw_client.ts";
import { forEachLine } from "../support/lines.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DENO = Deno.execPath();
const GUARD_MS = 30_000;
const RUN = [
  "run",
  "--unstable-net",
  "--allow-net",
  "--allow-env",
  "--allow-read=src",
  "src/runtime/deno/main.ts",
  "--host",
  "127.0.0.1",
];

/** A spawned process tree: its JSON log events (stdout), stderr, and a hang guard. */
interface Tree {
  child: Deno.ChildProcess;
  events: Record<string, unknown>[];
  /** Resolves with the port of the first "listening" line. */
  listening: Promise<number>;
  /** Waits until stdout and stderr end (every process holding them has exited). */
  ended(): Promise<{ status: Deno.CommandStatus; stderr: string; guardFired: boolean }>;
  /** Kills what is left (the process group when started with setsid). */
  kill(): void;
}

function spawn(cmd: string, args: string[], group = false): Tree {
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const events: Record<string, unknown>[] = [];
  const listening = Promise.withResolvers<number>();
  const kill = () => {
    for (const target of group ? [-child.pid, child.pid] : [child.pid]) {
      try {
        Deno.kill(target, "SIGKILL");
      } catch { /* gone already */ }
    }
  };
  let guardFired = false;
  const guard = setTimeout(() => {
    guardFired = true;
    kill();
  }, GUARD_MS);
  const stdout = (async () => {
    await forEachLine(child.stdout, (line) => {
      try {
        const e = JSON.parse(line);
        events.push(e);
        if (e.event === "listening") {
          listening.resolve(Number(new URL(String(e.url).replace(/^ws/, "http")).port));
        }
      } catch { /* not a log line (deno task prints its command) */ }
    });
    listening.reject(new Error("ended before listening"));
  })();
  const stderr = (async () => {
    let all = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) all += text;
    return all;
  })();
  listening.promise.catch(() => {});
  return {
    child,
    events,
    listening: listening.promise,
    kill,
    async ended() {
      const status = await child.status;
      await stdout;
      const text = await stderr;
      clearTimeout(guard);
      return { status, stderr: text, guardFired };
    },
  };
}

function names(t: Tree): string[] {
  return t.events.map((e) => String(e.event));
}

function codeOf(payload: Uint8Array): number {
  return payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
}

/** Reads the server's close frame, answers it, and waits for the end of TCP. */
async function closeHandshake(c: RawClient): Promise<{ code: number; eof: boolean }> {
  const r = await c.closeCode();
  return { code: r.code, eof: r.eof };
}

Deno.test("--workers 2 on a port in use: one line naming the address, exit 3", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = busy.addr.port;
  const t = spawn(DENO, [...RUN, "--port", String(port), "--workers", "2"]);
  try {
    const { status, stderr, guardFired } = await t.ended();
    assert.equal(guardFired, false, "the process hung instead of exiting");
    assert.equal(status.code, 3);
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0], new RegExp(`127\\.0\\.0\\.1:${port}: the address is in use`));
  } finally {
    t.kill();
    busy.close();
  }
});

Deno.test("--workers 2 with a HOST that is not this machine's: one line naming it, exit 3", async () => {
  const t = spawn(DENO, [...RUN.slice(0, -1), "192.0.2.1", "--port", "9", "--workers", "2"]);
  try {
    const { status, stderr, guardFired } = await t.ended();
    assert.equal(guardFired, false, "the process hung instead of exiting");
    assert.equal(status.code, 3);
    assert.match(
      stderr.trim(),
      /^wsecho: cannot listen on 192\.0\.2\.1:9: 192\.0\.2\.1 is not an address/,
    );
  } finally {
    t.kill();
  }
});

Deno.test("a launcher shell killed alone (as npm kills npx's `sh -c`): the server drains and exits", async () => {
  // npm → sh -c → server: npm forwards SIGTERM to the shell only, which dies without passing
  // it on. (The shell tells us the server's pid, so that a failing test can end it.)
  const script = `"$0" "$@" & p=$!; echo '{"event":"child","pid":'$p'}'; wait $p; true`;
  const t = spawn("sh", ["-c", script, DENO, ...RUN, "--port", "0"]);
  let c: RawClient | null = null;
  try {
    const port = await t.listening;
    c = await RawClient.open(port);
    t.child.kill("SIGTERM"); // the shell only
    const close = await c.frame();
    assert.equal(close?.opcode, 8, "no close frame: the server was not stopped");
    assert.equal(codeOf(close!.payload), 1001);
    await c.sendFrame({ opcode: 8, payload: close!.payload });
    assert.equal(await c.frame(), null);
    const { guardFired } = await t.ended();
    assert.equal(guardFired, false, "the server kept running after its launcher was gone");
    assert.ok(names(t).includes("parent_gone"), names(t).join());
    const finished = t.events.find((e) => e.event === "drain_finished");
    assert.deepEqual([finished?.clean, finished?.cut], [1, 0]);
  } finally {
    c?.close();
    t.kill();
    const server = t.events.find((e) => e.event === "child");
    try {
      if (server !== undefined) Deno.kill(Number(server.pid), "SIGKILL");
    } catch { /* ended, as it should */ }
  }
});

Deno.test("deno task start, only the task process signalled (SIGTERM): drain, exit 0", async () => {
  const t = spawn(DENO, ["task", "start", "--host", "127.0.0.1", "--port", "0"]);
  let c: RawClient | null = null;
  try {
    const port = await t.listening;
    c = await RawClient.open(port);
    t.child.kill("SIGTERM");
    assert.deepEqual(await closeHandshake(c), { code: 1001, eof: true });
    const { status, guardFired } = await t.ended();
    assert.equal(guardFired, false);
    assert.equal(status.code, 0);
    assert.ok(names(t).includes("drain_finished"), names(t).join());
  } finally {
    c?.close();
    t.kill();
  }
});

Deno.test("Ctrl-C under deno task (SIGINT to the group, and forwarded again): a full drain, exit 0", async () => {
  // setsid: the task runner leads its own process group, as a terminal's foreground job does.
  const t = spawn("setsid", [DENO, "task", "start", "--host", "127.0.0.1", "--port", "0"], true);
  let c: RawClient | null = null;
  try {
    const port = await t.listening;
    c = await RawClient.open(port);
    await c.sendFrame({ opcode: 1, payload: "before ctrl-c" });
    assert.equal(new TextDecoder().decode((await c.frame())?.payload), "before ctrl-c");
    // The terminal signals every process of the group; deno task forwards its copy as well,
    // and such a copy can come once the drain has started.
    Deno.kill(-t.child.pid, "SIGINT");
    for (let i = 0; i < 6000 && !names(t).includes("drain_started"); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    Deno.kill(-t.child.pid, "SIGINT");
    assert.deepEqual(await closeHandshake(c), { code: 1001, eof: true });
    const { status, guardFired } = await t.ended();
    assert.equal(guardFired, false);
    assert.equal(status.code, 0, `events: ${names(t).join()}`);
    assert.ok(names(t).includes("signal_ignored"), names(t).join());
    const finished = t.events.find((e) => e.event === "drain_finished");
    assert.deepEqual([finished?.clean, finished?.cut], [1, 0]);
  } finally {
    c?.close();
    t.kill();
  }
});

Deno.test("a second signal after the grace period exits at once, non-zero", async () => {
  const t = spawn(DENO, [
    ...RUN,
    "--port",
    "0",
    "--drain-timeout",
    "60s",
    "--close-timeout",
    "60s",
  ]);
  let c: RawClient | null = null;
  try {
    const port = await t.listening;
    c = await RawClient.open(port);
    t.child.kill("SIGTERM");
    const close = await c.frame();
    assert.equal(codeOf(close!.payload), 1001);
    await new Promise((r) => setTimeout(r, REPEAT_GRACE_MS + 100)); // a person pressing again
    t.child.kill("SIGINT");
    const { status, guardFired } = await t.ended();
    assert.equal(guardFired, false);
    assert.equal(status.code, 1);
    assert.equal(await c.frame(), null);
    assert.ok(names(t).includes("drain_abandoned"), names(t).join());
  } finally {
    c?.close();
    t.kill();
  }
});

Deno.test("draining: a peer that never answers 1001 is cut at --close-timeout, not the drain timeout", async () => {
  const t = spawn(DENO, [
    ...RUN,
    "--port",
    "0",
    "--drain-timeout",
    "60s",
    "--close-timeout",
    "300ms",
  ]);
  let good: RawClient | null = null, silent: RawClient | null = null;
  try {
    const port = await t.listening;
    good = await RawClient.open(port);
    silent = await RawClient.open(port);
    t.child.kill("SIGTERM");
    assert.deepEqual(await closeHandshake(good), { code: 1001, eof: true });
    const close = await silent.frame();
    assert.equal(codeOf(close!.payload), 1001);
    // Never answered: TCP is closed by the server (after the close timeout).
    assert.equal(await silent.frame(), null);
    const { status, guardFired } = await t.ended();
    assert.equal(guardFired, false, "held for the drain timeout");
    assert.equal(status.code, 0);
    const finished = t.events.find((e) => e.event === "drain_finished");
    assert.deepEqual([finished?.clean, finished?.cut, finished?.left], [1, 1, 0]);
  } finally {
    good?.close();
    silent?.close();
    t.kill();
  }
});
