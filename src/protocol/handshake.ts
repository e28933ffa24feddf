// The WebSocket side of the opening handshake (RFC 6455 §1.3, §4.2.2): the key and its answer.

/** The GUID appended to the client's key (RFC 6455 §1.3). */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// 16 bytes in base64: 22 characters and "==".
const KEY_FORMAT = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/** True for a Sec-WebSocket-Key that is 16 bytes in base64 (RFC 6455 §4.1). */
export function isValidKey(key: string): boolean {
  return KEY_FORMAT.test(key) && Uint8Array.fromBase64(key).length === 16;
}

const encoder = new TextEncoder();

/** Sec-WebSocket-Accept for `key`: base64(SHA-1(key + GUID)). */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + WEBSOCKET_GUID));
  return new Uint8Array(digest).toBase64();
}
