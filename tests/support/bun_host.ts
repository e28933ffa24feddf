// Runs under Bun, started once by tests/support/server.ts for the [bun] tests: it starts and
// stops wsecho servers on Bun's transport as the test process asks, one JSON line per request on
// stdin, one per answer on stdout (so that a test costs no Bun start-up of its own):
//   {"start": id, "config": Config} → {"id": id, "port": N} or {"id": id, "error": "..."}
//   {"stop": id}                    → {"id": id, "stopped": true} once the server has closed
// and {"id": id, "connections": N} whenever a server's connection count changes.

import process from "node:process";
import { createInterface } from "node:readline";
import type { Config } from "../../src/config.ts";
import { Logger } from "../../src/log.ts";
import { logInsteadOfCrashingOnBun } from "../../src/runtime/bun/main.ts";
import { startBun } from "../../src/runtime/bun/start.ts";
import type { Server } from "../../src/server/server.ts";

const servers = new Map<number, { server: Server; reported: number }>();
const send = (message: Record<string, unknown>) => console.log(JSON.stringify(message));

// A bug in one test's server is reported on stderr, not the end of every later test's.
logInsteadOfCrashingOnBun(new Logger("error", {}, (line) => console.error(line)));

async function handle(request: { start?: number; stop?: number; config?: Config }) {
  if (request.start !== undefined) {
    const id = request.start;
    try {
      const server = await startBun(request.config!);
      servers.set(id, { server, reported: 0 });
      send({ id, port: server.addr.port });
    } catch (err) {
      send({ id, error: String((err as Error).stack ?? err) });
    }
  } else if (request.stop !== undefined) {
    const id = request.stop;
    const entry = servers.get(id);
    servers.delete(id);
    await entry?.server.close();
    send({ id, stopped: true });
  }
}

setInterval(() => {
  for (const [id, entry] of servers) {
    const n = entry.server.connectionCount;
    if (n === entry.reported) continue;
    entry.reported = n;
    send({ id, connections: n });
  }
}, 5);

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== "") handle(JSON.parse(line));
}
process.exit(0); // stdin closed: the test process is done with us
