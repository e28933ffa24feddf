// Entry point: flags and environment → Config → listening server(s) → graceful drain on signals.

import { type Config, ConfigError, ENV_NAMES, helpText, loadConfig } from "../../config.ts";
import { Logger, logInsteadOfCrashing } from "../../log.ts";
import { VERSION } from "../../version.ts";
import { startWsecho } from "../../wsecho.ts";
import { onSignals, watchParent } from "./signals.ts";
import { listeningFields } from "../../listening.ts";
import { listen, loadAssets } from "./start.ts";
import { describeStartError, Exit } from "./start_errors.ts";
import { runWorkers } from "./workers.ts";

async function runSingle(config: Config, log: Logger): Promise<void> {
  const listener = await listen(config);
  const server = startWsecho(listener, config, await loadAssets(), { logger: log });
  // Signal handlers first: whoever reads "listening" may send SIGTERM at once.
  const stop = onSignals(() => server.drain(config.drainTimeout), log);
  watchParent(() => stop("parent_gone"), log);
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
