// Several workers (isolates on their own threads), each with its own listener on the same port
// (SO_REUSEPORT): the kernel spreads connections across them. The main thread first binds the
// address itself, without SO_REUSEPORT, and lets go of it: a port already in use (even by
// another wsecho's workers, which SO_REUSEPORT would silently share it with) or an address that
// is not this machine's stops the start with one line, and port 0 becomes one port for all.

import type { Config } from "../../config.ts";
import type { Logger } from "../../log.ts";
import { onSignals, watchParent } from "./signals.ts";

/** Messages between the main thread and a worker (see worker.ts). */
export type WorkerMessage =
  | { kind: "start"; config: Config; worker: number }
  | { kind: "listening"; hostname: string; port: number }
  | { kind: "failed"; line: string }
  | { kind: "drain" }
  | { kind: "drained" };

/** The one line that says why the server cannot listen on `host:port`. */
export function startFailure(err: unknown, host: string, port: number): string {
  const where = `cannot listen on ${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (err instanceof Deno.errors.AddrInUse) return `wsecho: ${where}: the port is already in use`;
  if (err instanceof Deno.errors.AddrNotAvailable) {
    return `wsecho: ${where}: HOST is not an address of this machine`;
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return `wsecho: ${where}: permission denied (ports below 1024 need privileges)`;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/lookup address|Name or service not known|invalid.*address/i.test(message)) {
    return `wsecho: ${where}: HOST cannot be resolved (${message})`;
  }
  return `wsecho: cannot start on ${where.slice("cannot listen on ".length)}: ${message}`;
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
    Deno.exit(1);
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
        Deno.exit(1);
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
  log.log("info", "listening", { url: `ws://${config.host}:${port}/`, workers: config.workers });
}
