// Entry point on Bun: flags and environment → Config → listening server(s) → graceful drain on
// signals. The same options, help and logs as src/runtime/deno/main.ts.

import process from "node:process";
import { type Config, ConfigError, ENV_NAMES, helpText, loadConfig } from "../../config.ts";
import { listeningFields } from "../../listening.ts";
import { Logger } from "../../log.ts";
import { startBun } from "./start.ts";

/** Messages between the main thread and a worker (see worker.ts). */
export type WorkerMessage =
  | { kind: "start"; config: Config; worker: number }
  | { kind: "listening"; hostname: string; port: number }
  | { kind: "drain" }
  | { kind: "drained" };

/**
 * Keeps a bug in one connection from ending the process serving all the others: unhandled
 * rejections and uncaught errors are logged (level error) instead of being fatal.
 */
export function logInsteadOfCrashingOnBun(log: Logger): void {
  process.on("unhandledRejection", (reason: unknown) => {
    log.log("error", "unhandled_rejection", {
      error: String((reason as Error | undefined)?.stack ?? reason),
    });
  });
  process.on("uncaughtException", (err: Error) => {
    log.log("error", "uncaught_error", { error: String(err?.stack ?? err) });
  });
}

// SIGTERM (container stop) and SIGINT (Ctrl-C) start a drain; a second signal exits at once.
function onSignals(drain: () => Promise<void>): void {
  let draining = false;
  const handler = () => {
    if (draining) process.exit(1);
    draining = true;
    drain().then(() => process.exit(0));
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

async function runSingle(config: Config, log: Logger): Promise<void> {
  const server = await startBun(config, { logger: log });
  // Signal handlers first: whoever reads "listening" may send SIGTERM at once.
  onSignals(() => server.drain(config.drainTimeout));
  const { hostname, port } = server.addr;
  log.log("info", "listening", { ...listeningFields(hostname, port, false, 1), runtime: "bun" });
}

// Several workers (threads with their own event loop), each with its own listener on the same
// port (Bun.listen's reusePort, SO_REUSEPORT): the kernel spreads connections across them.
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
      process.exit(1);
    };
    w.postMessage({ kind: "start", config, worker: i } satisfies WorkerMessage);
    workers.push(w);
    listening.push(ready.promise);
  }
  await Promise.all(listening);
  log.log("info", "listening", {
    ...listeningFields(config.host, port, false, config.workers),
    runtime: "bun",
  });
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(helpText());
    process.exit(0);
  }
  let config: Config;
  try {
    const env = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));
    config = loadConfig(args, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`wsecho: ${err.message}`);
    process.exit(2);
  }
  // "auto": a person at a terminal reads text; a log collector gets JSON.
  if (config.logFormat === "auto") config.logFormat = process.stdout.isTTY ? "text" : "json";
  const log = new Logger(config.logLevel, {}, undefined, config.logFormat);
  logInsteadOfCrashingOnBun(log);
  try {
    if (config.workers > 1) await runWorkers(config, log);
    else await runSingle(config, log);
  } catch (err) {
    console.error(`wsecho: cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
}
