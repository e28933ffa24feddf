// wsecho assembled: the routes it serves and the server configured from a Config.

import type { Config } from "./config.ts";
import { echo } from "./echo.ts";
import { inspect } from "./inspect.ts";
import type { HttpResponse } from "./http/response.ts";
import type { Logger } from "./log.ts";
import { type Routes, Server } from "./server.ts";

/** Static files served by wsecho: the page at "/". */
export interface Assets {
  indexHtml: Uint8Array;
}

/** Reads the page from src/static/. */
export async function loadAssets(): Promise<Assets> {
  return { indexHtml: await Deno.readFile(new URL("./static/index.html", import.meta.url)) };
}

/** The routes: the echo (and its page) at "/", the inspecting echo, health and metrics. */
export function routes(assets: Assets): Routes {
  const page: HttpResponse = {
    status: 200,
    headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache" },
    body: assets.indexHtml,
  };
  return {
    websocket: { "/": echo, "/inspect": inspect },
    http: {
      "/": () => ({ ...page }),
      "/healthz": (_head, server) =>
        server.draining
          ? { status: 503, headers: { "Content-Type": "text/plain" }, body: "draining\n" }
          : { status: 200, headers: { "Content-Type": "text/plain" }, body: "ok\n" },
      "/metrics": (_head, server) => ({
        status: 200,
        headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
        body: server.metricsText(),
      }),
    },
  };
}

/** Starts wsecho with `config`. */
export function startWsecho(
  config: Config,
  assets: Assets,
  extra: { logger?: Logger; worker?: number; reusePort?: boolean } = {},
): Server {
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
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    allowedOrigins: config.allowedOrigins,
    protocols: config.protocols,
    pingIntervalMs: config.pingIntervalMs,
    pingTimeoutMs: config.pingTimeoutMs,
    maxMessageSize: config.maxMessageSize,
    closeTimeoutMs: config.closeTimeoutMs,
    maxBackpressure: config.maxBackpressure,
    ...extra,
  }, routes(assets));
}
