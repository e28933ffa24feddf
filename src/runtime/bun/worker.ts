// One worker of a multi-worker wsecho on Bun: its own server on the shared port, drained on
// request.

import { Logger } from "../../log.ts";
import type { Config } from "../../config.ts";
import type { Server } from "../../server/server.ts";
import { logInsteadOfCrashingOnBun, type WorkerMessage } from "./main.ts";
import { startBun } from "./start.ts";

// A Bun worker's global scope, as far as this file uses it.
declare const self: {
  onmessage: ((e: MessageEvent<WorkerMessage>) => void) | null;
  postMessage(message: WorkerMessage): void;
};

let server: Server | null = null;
let config: Config | null = null;

self.onmessage = async (e: MessageEvent<WorkerMessage>) => {
  const msg = e.data;
  if (msg.kind === "start") {
    config = msg.config;
    // (main.ts has resolved "auto" to the format of its own stdout.)
    const format = config.logFormat === "text" ? "text" : "json";
    const log = new Logger(config.logLevel, { worker: msg.worker }, undefined, format);
    logInsteadOfCrashingOnBun(log);
    server = await startBun(config, { logger: log, worker: msg.worker, reusePort: true });
    self.postMessage({ kind: "listening", ...server.addr });
  } else if (msg.kind === "drain") {
    if (server !== null && config !== null) await server.drain(config.drainTimeout);
    self.postMessage({ kind: "drained" });
  }
};
