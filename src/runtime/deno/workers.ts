// Several workers (isolates on their own threads), each with its own listener on the same port
// (SO_REUSEPORT): the kernel spreads connections across them. The main thread first binds the
// address itself, without SO_REUSEPORT, and lets go of it: a port already in use (even by
// another wsecho's workers, which SO_REUSEPORT would silently share it with) or an address that
// is not this machine's stops the start with one line, and port 0 becomes one port for all.

import type { Config } from "../../config.ts";
import type { Logger } from "../../log.ts";
import { onSignals, watchParent } from "./signals.ts";
import { listeningFields } from "../../listening.ts";
import { describeStartError, Exit } from "./start_errors.ts";

/** Messages between the main thread and a worker (see worker.ts). */
export type WorkerMessage =
  | { kind: "start"; config: Config; worker: number }
  | { kind: "listening"; hostname: string; port: number }
  | { kind: "failed"; line: string }
  | { kind: "drain" }
  | { kind: "drained" };

/** The one line that says why the server cannot listen on `host:port`. */
export function startFailure(err: unknown, host: string, port: number): string {
  const line = describeStartError(err, host, port);
  if (line !== null) return `wsecho: ${line}`;
  return `wsecho: cannot start: ${err instanceof Error ? err.stack : err}`;
}

/** Starts `config.workers` workers on one port; exits with one line if they cannot listen. */
export async function runWorkers(config: Config, log: Logger): Promise<void> {
  let port = config.port;
  try {
    const probe = Deno.listen({ hostname: config.host, port });
    port = probe.addr.port;
    probe.close();
  } catch (err) {
    console.error(startFailure(err, config.host, port));
    Deno.exit(Exit.CannotListen);
  }
  const workers: Worker[] = [];
  const listening: Promise<void>[] = [];
  const stop = onSignals(async () => {
    await Promise.all(workers.map((w) =>
      new Promise<void>((resolve) => {
        w.onmessage = (e: MessageEvent<WorkerMessage>) => {
          if (e.data.kind === "drained") resolve();
        };
        w.postMessage({ kind: "drain" } satisfies WorkerMessage);
      })
    ));
    for (const w of workers) w.terminate();
  }, log);
  for (let i = 0; i < config.workers; i++) {
    const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    const ready = Promise.withResolvers<void>();
    w.onmessage = (e: MessageEvent<WorkerMessage>) => {
      if (e.data.kind === "listening") ready.resolve();
      else if (e.data.kind === "failed") {
        console.error(e.data.line);
        Deno.exit(Exit.CannotListen);
      }
    };
    w.onerror = (e) => {
      log.log("error", "worker_failed", { worker: i, error: e.message });
      Deno.exit(1);
    };
    w.postMessage(
      { kind: "start", config: { ...config, port }, worker: i } satisfies WorkerMessage,
    );
    workers.push(w);
    listening.push(ready.promise);
  }
  await Promise.all(listening);
  watchParent(() => stop("parent_gone"), log);
  log.log(
    "info",
    "listening",
    listeningFields(config.host, port, config.cert !== "", config.workers),
  );
}
