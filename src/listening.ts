// What a started server says about itself, whatever the runtime: where it listens, and the page
// and echo URLs a person can open.

import { SUMMARY } from "./log.ts";
import { VERSION } from "./version.ts";

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * The "listening" event: the bound address as `url` (for machines), and the page and echo URLs
 * a person can open from this machine (an unspecified address is reached at loopback).
 */
export function listeningFields(hostname: string, port: number, tls: boolean, workers: number) {
  const local = hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
  const [http, ws] = tls ? ["https", "wss"] : ["http", "ws"];
  const page = `${http}://${hostPort(local, port)}/`;
  const echo = `${ws}://${hostPort(local, port)}/`;
  const more = workers > 1 ? ` (${workers} workers)` : "";
  return {
    [SUMMARY]: `wsecho ${VERSION} listening on ${hostPort(hostname, port)}${more}: page ${page}` +
      `  echo ${echo}`,
    url: `${ws}://${hostPort(hostname, port)}/`,
    page,
    echo,
    workers,
  };
}
