// src/runtime/deno/main.ts as a child process, run as `deno task start` runs it (the deno.json
// permission set), with its output read line by line.

import { forEachLine } from "./lines.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A running main.ts: its lines so far, and how to wait for one and to end it. */
export interface MainProcess {
  child: Deno.ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves with the first stdout line `match` accepts (rejects if the process ends first). */
  waitFor(match: (line: string) => boolean): Promise<string>;
  /** Sends SIGTERM (unless it has ended) and resolves with the exit code and all of stderr. */
  stop(): Promise<{ code: number; stderr: string }>;
}

/** Starts main.ts with `args`; `denoFlags` are added to the permission set (e.g. --allow-read). */
export function spawnMain(args: string[], denoFlags: string[] = []): MainProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-P=server", ...denoFlags, "src/runtime/deno/main.ts", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  let ended = false;
  const endWaiters: (() => void)[] = [];
  const stdout = (async () => {
    await forEachLine(child.stdout, (line) => {
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.match(line)) w.resolve(line);
        else waiters.push(w);
      }
    });
    ended = true;
    for (const f of endWaiters) f();
  })();
  const stderr = (async () => {
    let all = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) all += text;
    return all;
  })();
  return {
    child,
    lines,
    waitFor(match) {
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        if (ended) return reject(new Error(`main.ts ended; stdout: ${lines.join("\n")}`));
        waiters.push({ match, resolve });
        endWaiters.push(() =>
          stderr.then((e) => reject(new Error(`main.ts ended first: ${e}${lines.join("\n")}`)))
        );
      });
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch (err) {
        // It has exited already.
        if (!(err instanceof TypeError)) throw err;
      }
      const status = await child.status;
      await stdout;
      return { code: status.code, stderr: await stderr };
    },
  };
}

/** Runs main.ts with `args` to its end (a start that fails, --version). */
export async function runMain(
  args: string[],
  denoFlags: string[] = [],
): Promise<{ code: number; out: string; err: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-P=server", ...denoFlags, "src/runtime/deno/main.ts", ...args],
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}
