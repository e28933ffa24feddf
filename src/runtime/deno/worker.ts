// One worker of a multi-worker wsecho: its own server on the shared port, drained on request.

/// <reference lib="deno.worker" />

import type { Config } from "../../config.ts";
import { Logger, logInsteadOfCrashing } from "../../log.ts";
import type { Server } from "../../server/server.ts";
import { startDeno } from "./start.ts";
import { startFailure, type WorkerMessage } from "./workers.ts";

let server: Server | null = null;
let config: Config | null = null;

self.onmessage = async (e: MessageEvent<WorkerMessage>) => {
  const msg = e.data;
  if (msg.kind === "start") {
    config = msg.config;
    // (main.ts has resolved "auto" to the format of its own stdout.)
    const format = config.logFormat === "text" ? "text" : "json";
    const log = new Logger(config.logLevel, { worker: msg.worker }, undefined, format);
    logInsteadOfCrashing(log);
    try {
      server = await startDeno(config, { logger: log, worker: msg.worker, reusePort: true });
    } catch (err) {
      // The main thread prints the one line and exits (else it would wait for us for ever).
      const line = startFailure(err, config.host, config.port);
      self.postMessage({ kind: "failed", line } satisfies WorkerMessage);
      return;
    }
    self.postMessage({ kind: "listening", ...server.addr } satisfies WorkerMessage);
  } else if (msg.kind === "drain") {
    if (server !== null && config !== null) await server.drain(config.drainTimeout);
    self.postMessage({ kind: "drained" } satisfies WorkerMessage);
  }
};
