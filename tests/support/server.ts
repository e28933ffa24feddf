// Starts a real wsecho on an ephemeral loopback port for a test, and stops it afterwards: in
// process on Deno, or as a Bun subprocess when the runtime under test is Bun (support/runtime.ts).

import { type Config, defaultConfig } from "../../src/config.ts";
import { startDeno } from "../../src/runtime/deno/start.ts";
import { currentRuntime, findBun, ROOT_DIR } from "./runtime.ts";

/** What a test may ask of the server besides its port. */
export interface ServerView {
  /** Open TCP connections (upgraded or not); from a Bun subprocess, its latest report. */
  readonly connectionCount: number;
}

/** Runs `fn` against a fresh server configured with `overrides`, then closes the server. */
export async function withServer(
  overrides: Partial<Config>,
  fn: (port: number, server: ServerView) => Promise<void>,
): Promise<void> {
  const config = { ...defaultConfig(), host: "127.0.0.1", port: 0, ...overrides };
  if (currentRuntime() === "bun") return await withBunServer(config, fn);
  const server = await startDeno(config);
  try {
    await fn(server.addr.port, server);
  } finally {
    await server.close();
  }
}

// The server in a Bun process (tests/support/bun_server.ts), killed once `fn` is done.
async function withBunServer(
  config: Config,
  fn: (port: number, server: ServerView) => Promise<void>,
): Promise<void> {
  const bun = await findBun();
  if (!("path" in bun)) throw new Error(`Bun is not available: ${bun.reason}`);
  const child = new Deno.Command(bun.path, {
    args: ["tests/support/bun_server.ts", JSON.stringify(config)],
    cwd: ROOT_DIR,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const view = { connectionCount: 0 };
  const listening = Promise.withResolvers<number>();
  // Both streams are read to their end whatever happens (the sanitizers want them consumed).
  const stdout = (async () => {
    let pending = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf("\n")) !== -1) {
        const line = JSON.parse(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        if (typeof line.port === "number") listening.resolve(line.port);
        if (typeof line.connections === "number") view.connectionCount = line.connections;
      }
    }
    listening.reject(new Error("the Bun server ended before it was listening"));
  })();
  const stderr = (async () => {
    let all = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) all += text;
    return all;
  })();
  try {
    const port = await listening.promise.catch(async (err) => {
      throw new Error(`${err.message}: ${await stderr}`);
    });
    await fn(port, view);
  } finally {
    killIfRunning(child);
    await child.status;
    await stdout.catch(() => {});
    await stderr;
  }
}

// SIGKILL, unless it has exited already (it failed to start: its stderr says why).
function killIfRunning(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
  }
}
