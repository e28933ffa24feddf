// wsecho assembled: the routes it serves and the server configured from a Config.

import type { Config } from "./config.ts";
import { echo } from "./echo.ts";
import type { HttpResponse } from "./http/response.ts";
import { type Routes, Server } from "./server.ts";

/** Static files served by wsecho: the page at "/". */
export interface Assets {
  indexHtml: Uint8Array;
}

/** Reads the page from src/static/. */
export async function loadAssets(): Promise<Assets> {
  return { indexHtml: await Deno.readFile(new URL("./static/index.html", import.meta.url)) };
}

/** The routes: the echo (and its page) at "/", and a health check. */
export function routes(assets: Assets): Routes {
  const page: HttpResponse = {
    status: 200,
    headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache" },
    body: assets.indexHtml,
  };
  return {
    websocket: { "/": echo },
    http: {
      "/": () => ({ ...page }),
      "/healthz": () => ({ status: 200, headers: { "Content-Type": "text/plain" }, body: "ok\n" }),
    },
  };
}

/** Starts wsecho with `config`. */
export function startWsecho(config: Config, assets: Assets): Server {
  return Server.listen({
    hostname: config.host,
    port: config.port,
    head: {
      maxHeadBytes: config.maxHeadBytes,
      maxHeaders: config.maxHeaders,
      maxTargetBytes: config.maxTargetBytes,
    },
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    maxConnections: config.maxConnections,
    maxMessageSize: config.maxMessageSize,
    closeTimeoutMs: config.closeTimeoutMs,
    maxBackpressure: config.maxBackpressure,
  }, routes(assets));
}
