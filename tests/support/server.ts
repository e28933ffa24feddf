// Starts a real wsecho on an ephemeral loopback port for a test, and stops it afterwards.

import { type Config, defaultConfig } from "../../src/config.ts";
import { startDeno } from "../../src/runtime/deno/start.ts";
import type { Server } from "../../src/server/server.ts";

/** Runs `fn` against a fresh server configured with `overrides`, then closes the server. */
export async function withServer(
  overrides: Partial<Config>,
  fn: (port: number, server: Server) => Promise<void>,
): Promise<void> {
  const config = { ...defaultConfig(), host: "127.0.0.1", port: 0, ...overrides };
  const server = await startDeno(config);
  try {
    await fn(server.addr.port, server);
  } finally {
    await server.close();
  }
}
