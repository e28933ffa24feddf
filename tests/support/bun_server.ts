// Runs under Bun, started by tests/support/server.ts: a wsecho server with the Config given as
// JSON in argv[2], on Bun's transport. Prints {"port": N} once listening, then
// {"connections": N} whenever the server's connection count changes (for tests that wait for
// the server to let go of sockets). It runs until it is killed.

import process from "node:process";
import type { Config } from "../../src/config.ts";
import { startBun } from "../../src/runtime/bun/start.ts";

const config = JSON.parse(process.argv[2]) as Config;
const server = await startBun(config);
console.log(JSON.stringify({ port: server.addr.port }));
let last = 0;
setInterval(() => {
  if (server.connectionCount === last) return;
  last = server.connectionCount;
  console.log(JSON.stringify({ connections: last }));
}, 5);
