// The server's side of the opening handshake (RFC 6455 §4.2).

import { header, headerTokens, type RequestHead } from "../http/request_head.ts";
import type { HttpResponse } from "../http/response.ts";
import { textResponse } from "../http/response.ts";

/** The GUID appended to the client's key (RFC 6455 §1.3). */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// 16 bytes in base64: 22 characters and "==".
const KEY_FORMAT = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

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
  if (!KEY_FORMAT.test(key) || Uint8Array.fromBase64(key).length !== 16) {
    return refuse("Sec-WebSocket-Key must be 16 bytes in base64");
  }
  return { ok: true, key, protocols: headerTokens(head, "sec-websocket-protocol", false) };
}

const encoder = new TextEncoder();

/** Sec-WebSocket-Accept for `key`: base64(SHA-1(key + GUID)). */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + WEBSOCKET_GUID));
  return new Uint8Array(digest).toBase64();
}

/** The 101 response completing the handshake, optionally selecting a subprotocol. */
export function switchingProtocols(accept: string, protocol?: string): Uint8Array {
  let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${accept}\r\n`;
  if (protocol !== undefined) head += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  return encoder.encode(head + "\r\n");
}

/** Picks the first offered subprotocol that the server supports, if any. */
export function selectProtocol(
  offered: string[],
  supported: readonly string[],
): string | undefined {
  return offered.find((p) => supported.includes(p));
}
