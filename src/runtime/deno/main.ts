// Entry point: flags and environment → Config → listening server(s) → graceful drain on signals.

import { type Config, ConfigError, ENV_NAMES, helpText, loadConfig } from "../../config.ts";
import { Logger, logInsteadOfCrashing } from "../../log.ts";
import { onSignals, watchParent } from "./signals.ts";
import { startDeno } from "./start.ts";
import { runWorkers, startFailure } from "./workers.ts";

async function runSingle(config: Config, log: Logger): Promise<void> {
  const server = await startDeno(config, { logger: log });
  // Signal handlers first: whoever reads "listening" may send SIGTERM at once.
  const stop = onSignals(() => server.drain(config.drainTimeout), log);
  watchParent(() => stop("parent_gone"), log);
  const { hostname, port } = server.addr;
  log.log("info", "listening", { url: `ws://${hostname}:${port}/`, workers: 1 });
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
    console.error(startFailure(err, config.host, config.port));
    Deno.exit(1);
  }
}
