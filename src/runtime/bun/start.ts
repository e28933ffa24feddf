// Starting wsecho on Bun: the page read from src/static/, a TCP listener, the server.

import { readFile } from "node:fs/promises";
import type { Config } from "../../config.ts";
import type { Logger } from "../../log.ts";
import type { Server } from "../../server/server.ts";
import { type Assets, startWsecho } from "../../wsecho.ts";
import { listenTcp } from "./tcp.ts";

/** Reads the page from src/static/. */
export async function loadAssets(): Promise<Assets> {
  const bytes = await readFile(new URL("../../static/index.html", import.meta.url));
  return { indexHtml: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/** Binds `config.host:config.port` and serves wsecho there. */
export async function startBun(
  config: Config,
  extra: { logger?: Logger; worker?: number; reusePort?: boolean } = {},
): Promise<Server> {
  const { reusePort, ...rest } = extra;
  const assets = await loadAssets();
  const listener = listenTcp({ hostname: config.host, port: config.port, reusePort });
  return startWsecho(listener, config, assets, rest);
}
