// wsecho assembled, whatever the runtime: the routes it serves and the server options a Config
// gives. The runtime (src/runtime/*) brings the listener and the page's bytes.

import type { Config } from "./config.ts";
import { MemoryBudget } from "./connection/input_memory.ts";
import type { Listener } from "./connection/socket.ts";
import { echo } from "./echo.ts";
import type { HttpResponse } from "./http/response.ts";
import { inspect } from "./inspect.ts";
import type { Logger } from "./log.ts";
import { deflateSupported } from "./protocol/deflate.ts";
import type { Routes } from "./server/router.ts";
import { Server, type ServerOptions } from "./server/server.ts";

/** Static files served by wsecho: the page at "/". */
export interface Assets {
  indexHtml: Uint8Array;
}

/** The routes: the echo (and its page) at "/", the inspecting echo, health and metrics. */
export function routes(assets: Assets): Routes {
  const page: HttpResponse = {
    status: 200,
    headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache" },
    body: assets.indexHtml,
  };
  const plain = (status: number, body: string): HttpResponse => ({
    status,
    headers: { "Content-Type": "text/plain" },
    body,
  });
  return {
    websocket: { "/": echo, "/inspect": inspect },
    http: {
      "/": () => ({ ...page }),
      "/healthz": (_head, server) =>
        server.draining ? plain(503, "draining\n") : plain(200, "ok\n"),
      "/metrics": (_head, server) => ({
        status: 200,
        headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
        body: server.metricsText(),
      }),
    },
  };
}

/** The server options a Config gives (one name per option, from flag to server). */
export function serverOptions(
  config: Config,
  extra: { logger?: Logger; worker?: number } = {},
): ServerOptions {
  return {
    head: {
      maxHeadBytes: config.maxHead,
      maxHeaders: config.maxHeaders,
      maxTargetBytes: config.maxTarget,
    },
    handshakeTimeout: config.handshakeTimeout,
    maxConnections: config.maxConnections,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    allowedOrigins: config.allowedOrigins,
    protocols: config.protocols,
    pingInterval: config.pingInterval,
    pingTimeout: config.pingTimeout,
    maxMessage: config.maxMessage,
    closeTimeout: config.closeTimeout,
    maxBackpressure: config.maxBackpressure,
    memory: new MemoryBudget(config.maxMemory),
    deflate: config.deflate && deflateSupported()
      ? {
        windowBits: config.deflateWindowBits,
        memLevel: config.deflateMemLevel,
        threshold: config.deflateThreshold,
        contextTakeover: config.deflateContextTakeover,
      }
      : null,
    ...extra,
  };
}

/** Serves wsecho on `listener` as `config` says. */
export function startWsecho(
  listener: Listener,
  config: Config,
  assets: Assets,
  extra: { logger?: Logger; worker?: number } = {},
): Server {
  return new Server(listener, serverOptions(config, extra), routes(assets));
}
