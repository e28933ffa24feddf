// Starting wsecho on Deno: the page read from src/static/, a TCP (or TLS) listener, the server.

import type { Config } from "../../config.ts";
import { maskWith64BitWords } from "../../protocol/mask.ts";
import type { Listener } from "../../connection/socket.ts";
import type { Logger } from "../../log.ts";
import type { Server } from "../../server/server.ts";
import { type Assets, startWsecho } from "../../wsecho.ts";
import { listenTcp } from "./tcp.ts";
import { listenTls, type TlsListener } from "./tls.ts";

// Deno's engine is V8, which unmasks twice as fast in 64-bit words (see protocol/mask.ts).
maskWith64BitWords();

/** Reads the page from src/static/. */
export async function loadAssets(): Promise<Assets> {
  return { indexHtml: await Deno.readFile(new URL("../../static/index.html", import.meta.url)) };
}

/** Binds `config.host:config.port`: TLS when `config.cert` is set (then reloadable), else TCP. */
export async function listen(
  config: Config,
  reusePort?: boolean,
): Promise<Listener | TlsListener> {
  const where = { hostname: config.host, port: config.port, reusePort };
  if (config.cert !== "") {
    return await listenTls({ ...where, certFile: config.cert, keyFile: config.key });
  }
  return listenTcp(where);
}

/** Binds `config.host:config.port` and serves wsecho there. */
export async function startDeno(
  config: Config,
  extra: { logger?: Logger; worker?: number; reusePort?: boolean } = {},
): Promise<Server> {
  const { reusePort, ...rest } = extra;
  const assets = await loadAssets();
  return startWsecho(await listen(config, reusePort), config, assets, rest);
}
