// Starts a real wsecho on an ephemeral loopback port for a test, and stops it afterwards: in
// process on Deno, or as a Bun subprocess when the runtime under test is Bun (support/runtime.ts).

import { type Config, defaultConfig } from "../../src/config.ts";
import { startDeno } from "../../src/runtime/deno/start.ts";
import type { Server } from "../../src/server/server.ts";
import { currentRuntime, findBun, ROOT_DIR } from "./runtime.ts";
import { forEachLine } from "./lines.ts";

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

/** Like withServer, always on Deno in this process: for tests that look inside the server. */
export async function withDenoServer(
  overrides: Partial<Config>,
  fn: (port: number, server: Server) => Promise<void>,
): Promise<void> {
  const config = { ...defaultConfig(), host: "127.0.0.1", port: 0, ...overrides };
  const server = await startDeno(config);
  try {
    await fn(server.addr.port, server);
  } finally {
    await server.close();
  }
}

// The server in the Bun host process (tests/support/bun_host.ts), closed once `fn` is done.
async function withBunServer(
  config: Config,
  fn: (port: number, server: ServerView) => Promise<void>,
): Promise<void> {
  const host = await BunHost.get();
  const { id, port } = await host.start(config);
  const view = {
    get connectionCount() {
      return host.connectionCount(id);
    },
  };
  try {
    await fn(port, view);
  } finally {
    await host.stop(id);
  }
}

type HostMessage = {
  id: number;
  port?: number;
  error?: string;
  stopped?: boolean;
  connections?: number;
};

/**
 * One Bun process that runs the servers of every [bun] test, started on first use and ended by
 * stopBunHost(). Its pipes outlive single tests, so the [bun] tests run without Deno's op and
 * resource sanitizers (the same tests run with them on Deno).
 */
class BunHost {
  static #instance: Promise<BunHost> | null = null;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reading: Promise<void>;
  readonly #stderr: Promise<string>;
  readonly #waiting = new Map<number, (m: HostMessage) => void>();
  readonly #counts = new Map<number, number>();
  #nextId = 1;
  #ended: Error | null = null;

  static get(): Promise<BunHost> {
    BunHost.#instance ??= (async () => {
      const bun = await findBun();
      if (!("path" in bun)) throw new Error(`Bun is not available: ${bun.reason}`);
      return new BunHost(bun.path);
    })();
    return BunHost.#instance;
  }

  /** Ends the host, if it was started. */
  static async stop(): Promise<void> {
    const instance = BunHost.#instance;
    BunHost.#instance = null;
    if (instance === null) return;
    const host = await instance;
    await host.#stdin.close();
    await host.#child.status;
    await host.#reading;
    await host.#stderr;
  }

  private constructor(path: string) {
    const child = new Deno.Command(path, {
      args: ["tests/support/bun_host.ts"],
      cwd: ROOT_DIR,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.#stderr = (async () => {
      let all = "";
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        all += text;
        // A server's unexpected error, logged by the host: shown with the test that caused it.
        console.error(`bun host: ${text.trimEnd()}`);
      }
      return all;
    })();
    this.#reading = (async () => {
      await forEachLine(child.stdout, (line) => {
        const m = JSON.parse(line) as HostMessage;
        if (m.connections !== undefined) this.#counts.set(m.id, m.connections);
        else this.#waiting.get(m.id)?.(m);
      });
      this.#ended = new Error("the Bun host process ended");
      for (const answer of this.#waiting.values()) answer({ id: 0, error: this.#ended.message });
    })();
  }

  #ask(id: number, request: Record<string, unknown>): Promise<HostMessage> {
    if (this.#ended !== null) return Promise.reject(this.#ended);
    const answer = new Promise<HostMessage>((resolve) => this.#waiting.set(id, resolve));
    const line = new TextEncoder().encode(JSON.stringify(request) + "\n");
    return this.#stdin.write(line).then(() => answer).finally(() => this.#waiting.delete(id));
  }

  /** Starts a server with `config`; its id (for stop) and port. */
  async start(config: Config): Promise<{ id: number; port: number }> {
    const id = this.#nextId++;
    const m = await this.#ask(id, { start: id, config });
    if (m.port === undefined) throw new Error(`the Bun server did not start: ${m.error}`);
    return { id, port: m.port };
  }

  /** Closes server `id` (every connection) and waits until it has. */
  async stop(id: number): Promise<void> {
    const m = await this.#ask(id, { stop: id });
    this.#counts.delete(id);
    if (!m.stopped) throw new Error(`the Bun server did not stop: ${m.error}`);
  }

  /** Server `id`'s connection count, as last reported. */
  connectionCount(id: number): number {
    return this.#counts.get(id) ?? 0;
  }
}

/** Ends the Bun process that ran the [bun] tests' servers (their last test calls it). */
export function stopBunHost(): Promise<void> {
  return BunHost.stop();
}
