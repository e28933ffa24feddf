// Entry point: flags and environment → Config → listening server(s) → graceful drain on signals.

import { type Config, ConfigError, ENV_NAMES, helpText, loadConfig } from "../../config.ts";
import { Logger, logInsteadOfCrashing } from "../../log.ts";
import { startDeno } from "./start.ts";

/** Messages between the main thread and a worker (see worker.ts). */
export type WorkerMessage =
  | { kind: "start"; config: Config; worker: number }
  | { kind: "listening"; hostname: string; port: number }
  | { kind: "drain" }
  | { kind: "drained" };

// SIGTERM (container stop) and SIGINT (Ctrl-C) start a drain; a second signal exits at once.
function onSignals(drain: () => Promise<void>): void {
  let draining = false;
  const handler = () => {
    if (draining) Deno.exit(1);
    draining = true;
    drain().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGTERM", handler);
  Deno.addSignalListener("SIGINT", handler);
}

async function runSingle(config: Config, log: Logger): Promise<void> {
  const server = await startDeno(config, { logger: log });
  // Signal handlers first: whoever reads "listening" may send SIGTERM at once.
  onSignals(() => server.drain(config.drainTimeout));
  const { hostname, port } = server.addr;
  log.log("info", "listening", { url: `ws://${hostname}:${port}/`, workers: 1 });
}

// Several workers (isolates on their own threads), each with its own listener on the same port
// (SO_REUSEPORT): the kernel spreads connections across them.
async function runWorkers(config: Config, log: Logger): Promise<void> {
  const workers: Worker[] = [];
  const listening: Promise<void>[] = [];
  let port = config.port;
  onSignals(async () => {
    await Promise.all(workers.map((w) =>
      new Promise<void>((resolve) => {
        w.onmessage = (e: MessageEvent<WorkerMessage>) => {
          if (e.data.kind === "drained") resolve();
        };
        w.postMessage({ kind: "drain" } satisfies WorkerMessage);
      })
    ));
    for (const w of workers) w.terminate();
  });
  for (let i = 0; i < config.workers; i++) {
    const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    const ready = Promise.withResolvers<void>();
    w.onmessage = (e: MessageEvent<WorkerMessage>) => {
      if (e.data.kind === "listening") {
        port = e.data.port;
        ready.resolve();
      }
    };
    w.onerror = (e) => {
      log.log("error", "worker_failed", { worker: i, error: e.message });
      Deno.exit(1);
    };
    w.postMessage({ kind: "start", config, worker: i } satisfies WorkerMessage);
    workers.push(w);
    listening.push(ready.promise);
  }
  await Promise.all(listening);
  log.log("info", "listening", {
    url: `ws://${config.host}:${port}/`,
    workers: config.workers,
  });
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(helpText());
    Deno.exit(0);
  }
  let config: Config;
  try {
    // Only the variables wsecho reads: it runs with --allow-env limited to these names.
    const env = Object.fromEntries(ENV_NAMES.map((name) => [name, Deno.env.get(name)]));
    config = loadConfig(Deno.args, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`wsecho: ${err.message}`);
    Deno.exit(2);
  }
  const log = new Logger(config.logLevel);
  logInsteadOfCrashing(log);
  try {
    if (config.workers > 1) await runWorkers(config, log);
    else await runSingle(config, log);
  } catch (err) {
    console.error(`wsecho: cannot start: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
