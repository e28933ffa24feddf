// The HTTP side of the opening handshake (RFC 6455 §4.2.1-4.2.2): whether a request may switch
// to WebSocket, and the 101 or the refusal that answers it. Pure: a head and a policy in, a
// decision out; nothing here touches a socket.

import type { DeflateOptions, DeflateParams } from "../protocol/deflate.ts";
import { acceptKey, isValidKey } from "../protocol/handshake.ts";
import { ExtensionSyntaxError, negotiateDeflate, parseExtensions } from "./extensions.ts";
import { header, headerTokens, type RequestHead } from "./request_head.ts";
import { type HttpResponse, textResponse } from "./response.ts";

/** What the server allows beyond RFC 6455 itself. */
export interface UpgradePolicy {
  /** Origins allowed to upgrade; empty for any. The server's own page is always allowed. */
  allowedOrigins: readonly string[];
  /**
   * Subprotocols the server may select (the client's first offered one on this list); empty for
   * any: the first protocol the client offers is selected, as an echo speaks every protocol.
   */
  protocols: readonly string[];
  /** permessage-deflate settings; null or absent: the extension is never agreed. */
  deflate?: DeflateOptions | null;
}

/** The answer to an upgrade request: the 101 to send, or the refusal and its reason. */
export type UpgradeDecision =
  | {
    ok: true;
    response: Uint8Array;
    key: string;
    accept: string;
    protocol?: string;
    /** The permessage-deflate parameters in force, if agreed. */
    deflate?: DeflateParams;
    /** The Sec-WebSocket-Extensions header sent, if any. */
    extensions?: string;
  }
  | { ok: false; reason: string; response: HttpResponse };

/** True when the request asks to switch to WebSocket (whether or not it does so correctly). */
export function isUpgradeRequest(head: RequestHead): boolean {
  return headerTokens(head, "upgrade").includes("websocket");
}

/** A valid upgrade request's key and offered subprotocols, or the response refusing it. */
export type UpgradeCheck =
  | { ok: true; key: string; protocols: string[] }
  | { ok: false; response: HttpResponse };

/** Checks a GET request that asks for a WebSocket upgrade against RFC 6455 §4.2.1. */
export function checkUpgrade(head: RequestHead): UpgradeCheck {
  const refuse = (reason: string): UpgradeCheck => ({
    ok: false,
    response: textResponse(400, reason),
  });
  if (head.version !== "HTTP/1.1") return refuse("WebSocket upgrade needs HTTP/1.1");
  if (header(head, "host") === undefined) return refuse("missing Host header");
  if (head.headers.get("host")!.length > 1) return refuse("more than one Host header");
  // What follows the head is read as WebSocket frames, so a body would be taken for frames.
  const length = header(head, "content-length");
  if ((length !== undefined && length !== "0") || head.headers.has("transfer-encoding")) {
    return refuse("an upgrade request must not have a body");
  }
  if (!headerTokens(head, "connection").includes("upgrade")) {
    return refuse("Connection header must include 'upgrade'");
  }
  const version = header(head, "sec-websocket-version");
  if (version === undefined) return refuse("missing Sec-WebSocket-Version header");
  if (version !== "13") {
    return {
      ok: false,
      response: textResponse(426, "unsupported WebSocket version (13 is supported)", {
        "Sec-WebSocket-Version": "13",
      }),
    };
  }
  const key = header(head, "sec-websocket-key");
  if (key === undefined) return refuse("missing Sec-WebSocket-Key header");
  if (!isValidKey(key)) return refuse("Sec-WebSocket-Key must be 16 bytes in base64");
  return {
    ok: true,
    key,
    protocols: headerTokens(head, "sec-websocket-protocol", { lowerCase: false }),
  };
}

/** The 101 response completing the handshake, optionally selecting a subprotocol and extensions. */
export function switchingProtocols(
  accept: string,
  protocol?: string,
  extensions?: string,
): Uint8Array {
  let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${accept}\r\n`;
  if (protocol !== undefined) head += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  if (extensions !== undefined) head += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  return new TextEncoder().encode(head + "\r\n");
}

// RFC 6455 §4.1: each subprotocol is an HTTP token (RFC 9110 §5.6.2).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Picks the client's first offered subprotocol that `supported` lists, or, when `supported` is
 * empty, the first offered one at all (a browser that offers protocols fails a 101 that selects
 * none). Offers that are not valid tokens are never selected.
 */
export function selectProtocol(
  offered: readonly string[],
  supported: readonly string[],
): string | undefined {
  return offered.find((p) => TOKEN.test(p) && (supported.length === 0 || supported.includes(p)));
}

/**
 * True when `origin` may upgrade: any origin when the allow-list is empty, one on the list, or
 * the server's own (an origin whose host is the request's Host: the page it served).
 */
export function originAllowed(head: RequestHead, allowed: readonly string[]): boolean {
  const origin = header(head, "origin");
  if (origin === undefined || allowed.length === 0 || allowed.includes(origin)) return true;
  const host = header(head, "host");
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase();
  } catch (err) {
    if (err instanceof TypeError) return false; // not a URL: not an origin we know
    throw err;
  }
}

/** Decides an upgrade request (a GET asking for WebSocket): the 101 to send, or the refusal. */
export async function acceptUpgrade(
  head: RequestHead,
  policy: UpgradePolicy,
): Promise<UpgradeDecision> {
  const check = checkUpgrade(head);
  if (!check.ok) return { ok: false, reason: "bad_handshake", response: check.response };
  if (!originAllowed(head, policy.allowedOrigins)) {
    return { ok: false, reason: "origin", response: textResponse(403, "origin not allowed") };
  }
  let agreed = null;
  if (policy.deflate) {
    try {
      const offers = parseExtensions(head.headers.get("sec-websocket-extensions") ?? []);
      agreed = negotiateDeflate(offers, policy.deflate);
    } catch (err) {
      if (!(err instanceof ExtensionSyntaxError)) throw err;
      const reason = `malformed Sec-WebSocket-Extensions: ${err.message}`;
      return { ok: false, reason: "bad_handshake", response: textResponse(400, reason) };
    }
  }
  const accept = await acceptKey(check.key);
  const protocol = selectProtocol(check.protocols, policy.protocols);
  const response = switchingProtocols(accept, protocol, agreed?.response);
  const decision: UpgradeDecision = { ok: true, response, key: check.key, accept };
  if (protocol !== undefined) decision.protocol = protocol;
  if (agreed !== null) {
    decision.deflate = agreed.params;
    decision.extensions = agreed.response;
  }
  return decision;
}
