// Which handler a request goes to: a WebSocket application, a plain endpoint, or a refusal.
// Pure: a parsed head and the route table in, a decision out.

import type { WebSocketConnection } from "../connection/connection.ts";
import type { RequestHead } from "../http/request_head.ts";
import { type HttpResponse, textResponse } from "../http/response.ts";
import { isUpgradeRequest } from "../http/upgrade.ts";

/** A WebSocket application: it owns the connection until it returns. */
export type WebSocketApp = (conn: WebSocketConnection) => Promise<void>;

/** What a plain endpoint may ask of the server it runs in. */
export interface ServerView {
  /** True once a drain has begun. */
  readonly draining: boolean;
  /** The Prometheus exposition of the server's metrics. */
  metricsText(): string;
}

/** A plain HTTP endpoint: it answers a GET (or HEAD) with a response. */
export type HttpHandler = (head: RequestHead, server: ServerView) => HttpResponse;

/** What the server serves, by path (the request-target without its query). */
export interface Routes {
  websocket: Record<string, WebSocketApp>;
  http: Record<string, HttpHandler>;
}

/** Where a request goes: an upgrade to run `app` on, or a response (`reason` for refusals). */
export type RouteDecision =
  | { kind: "upgrade"; app: WebSocketApp }
  | { kind: "respond"; response: HttpResponse; reason?: string };

/** Routes a request: by path, then method, then whether it asks for WebSocket. */
export function route(head: RequestHead, routes: Routes, server: ServerView): RouteDecision {
  const path = targetPath(head.target);
  const app = routes.websocket[path];
  const page = routes.http[path];
  if (app === undefined && page === undefined) {
    return refuse("not_found", textResponse(404, "not found"));
  }
  const isGet = head.method === "GET";
  if (!isGet && !(head.method === "HEAD" && page !== undefined)) {
    const allow = page !== undefined ? "GET, HEAD" : "GET";
    return refuse("method", textResponse(405, "method not allowed", { Allow: allow }));
  }
  if (app !== undefined && isGet && isUpgradeRequest(head)) { // RFC 6455 §4.2.1: GET only
    if (server.draining) return refuse("draining", busy("server is shutting down"));
    return { kind: "upgrade", app };
  }
  if (page === undefined) {
    return refuse(
      "not_websocket",
      textResponse(426, "this endpoint speaks WebSocket only", { Upgrade: "websocket" }),
    );
  }
  const response = page(head, server);
  if (head.method === "HEAD") response.omitBody = true;
  return { kind: "respond", response };
}

/** 503 with Retry-After: the server is full or shutting down. */
export function busy(message: string): HttpResponse {
  return textResponse(503, message, { "Retry-After": "5" });
}

function refuse(reason: string, response: HttpResponse): RouteDecision {
  return { kind: "respond", response, reason };
}

// The path of a request-target: origin form ("/p?q") or absolute form ("http://host/p?q",
// whose path may be empty: "http://host?q" is "/").
function targetPath(target: string): string {
  let t = target;
  if (!t.startsWith("/")) {
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(t);
    if (m !== null) t = m[1];
  }
  return t.split("?", 1)[0] || "/";
}
