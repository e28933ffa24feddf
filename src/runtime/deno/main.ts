// Entry point: flags and environment → Config → listening server(s) → graceful drain on signals.

import { type Config, ConfigError, ENV_NAMES, helpText, loadConfig } from "../../config.ts";
import { Logger, logInsteadOfCrashing, SUMMARY } from "../../log.ts";
import { VERSION } from "../../version.ts";
import { listen, loadAssets } from "./start.ts";
import { describeStartError, Exit, hostPort } from "./start_errors.ts";
import { startWsecho } from "../../wsecho.ts";

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

/**
 * The "listening" event: the bound address as `url` (for machines), and the page and echo URLs
 * a person can open from this machine (an unspecified address is reached at loopback).
 */
export function listeningFields(hostname: string, port: number, tls: boolean, workers: number) {
  const local = hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
  const [http, ws] = tls ? ["https", "wss"] : ["http", "ws"];
  const page = `${http}://${hostPort(local, port)}/`;
  const echo = `${ws}://${hostPort(local, port)}/`;
  const more = workers > 1 ? ` (${workers} workers)` : "";
  return {
    [SUMMARY]: `wsecho ${VERSION} listening on ${hostPort(hostname, port)}${more}: page ${page}` +
      `  echo ${echo}`,
    url: `${ws}://${hostPort(hostname, port)}/`,
    page,
    echo,
    workers,
  };
}

async function runSingle(config: Config, log: Logger): Promise<void> {
  const listener = await listen(config);
  const server = startWsecho(listener, config, await loadAssets(), { logger: log });
  // Signal handlers first: whoever reads "listening" may send SIGTERM at once.
  onSignals(() => server.drain(config.drainTimeout));
  if ("reload" in listener) {
    // SIGHUP: read the certificate pair again (a renewed certificate) without a restart.
    Deno.addSignalListener("SIGHUP", () => {
      listener.reload().then(
        () => log.log("info", "tls_reloaded", { cert: config.cert, key: config.key }),
        (err) => log.log("error", "tls_reload_failed", { error: describeReload(err) }),
      );
    });
  }
  const { hostname, port } = server.addr;
  log.log("info", "listening", listeningFields(hostname, port, config.cert !== "", 1));
}

// A refused reload is expected (a half-written file, a wrong path): one line; else the stack.
function describeReload(err: unknown): string {
  const line = describeStartError(err, "", 0);
  if (line !== null) return line.replace(/^cannot use the TLS pair: /, "");
  return err instanceof Error ? err.stack ?? err.message : String(err);
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
  log.log(
    "info",
    "listening",
    listeningFields(config.host, port, config.cert !== "", config.workers),
  );
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(helpText());
    Deno.exit(Exit.Ok);
  }
  if (Deno.args.includes("--version")) {
    const v = Deno.version;
    console.log(`wsecho ${VERSION} (deno ${v.deno}, v8 ${v.v8}, typescript ${v.typescript})`);
    Deno.exit(Exit.Ok);
  }
  let config: Config;
  try {
    // Only the variables wsecho reads: it runs with --allow-env limited to these names.
    const env = Object.fromEntries(ENV_NAMES.map((name) => [name, Deno.env.get(name)]));
    config = loadConfig(Deno.args, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`wsecho: ${err.message}`);
    Deno.exit(Exit.BadOption);
  }
  // "auto": a person at a terminal reads text; a log collector gets JSON.
  if (config.logFormat === "auto") config.logFormat = Deno.stdout.isTerminal() ? "text" : "json";
  const log = new Logger(config.logLevel, {}, undefined, config.logFormat);
  logInsteadOfCrashing(log);
  try {
    if (config.workers > 1) await runWorkers(config, log);
    else await runSingle(config, log);
  } catch (err) {
    const line = describeStartError(err, config.host, config.port);
    if (line !== null) {
      console.error(`wsecho: ${line}`);
      Deno.exit(Exit.CannotListen);
    }
    console.error(`wsecho: cannot start: ${err instanceof Error ? err.stack : err}`);
    Deno.exit(Exit.Failure);
  }
}
