// The /inspect endpoint: the echo, plus a JSON report of every frame as it arrived on the wire,
// of every echo frame as it leaves, and, first of all, of the opening handshake's computation.
// It is what the page draws.

import type { HandshakeInfo, WebSocketConnection } from "./connection/connection.ts";
import { type FramePiece, Opcode, OPCODE_NAMES } from "./protocol/frame.ts";
import { headerLength, writeHeader } from "./protocol/frame_encoder.ts";
import { WEBSOCKET_GUID } from "./protocol/handshake.ts";
import { applyMask } from "./protocol/mask.ts";
import type { Message } from "./protocol/session.ts";

/** Payload bytes shown per frame report (masked and unmasked); the rest is only counted. */
export const INSPECT_PAYLOAD_BYTES = 32;

/** Marks inspect reports, so that a client can tell them from echoes. */
export const INSPECT_TAG = "inspect";

/**
 * Echoes every message like "/", and reports as JSON text the handshake, every frame received,
 * every echo frame sent and, for a compressed message, its size on the wire and after inflation.
 */
export async function inspect(conn: WebSocketConnection): Promise<void> {
  if (conn.handshake !== null) {
    await conn.send(JSON.stringify(await handshakeReport(conn.handshake)));
  }
  // Wire sizes of the messages whose last frame has been decoded, in order (a read may carry
  // several messages before the first is delivered).
  const wire: { compressed: boolean; bytes: number }[] = [];
  let current = { compressed: false, bytes: 0 };
  // Reports go out as the frames are decoded, before the echo of the message they belong to.
  conn.onFrames = (frames) => {
    for (const f of frames) {
      if (f.first) conn.send(JSON.stringify(frameReport(f)));
      if (f.opcode >= Opcode.Close) continue;
      if (f.first && f.opcode !== Opcode.Continuation) {
        current = { compressed: (f.rsv & 4) !== 0, bytes: 0 };
      }
      current.bytes += f.payload.length;
      if (f.fin && f.end) wire.push(current);
    }
  };
  for await (const message of conn) {
    const w = wire.shift();
    if (w?.compressed) {
      await conn.send(JSON.stringify(messageReport(w.bytes, message.data.length)));
    }
    // Described before it is handed back: after a transfer the message may not be read.
    const deflate = conn.deflate;
    const compressed = deflate !== null && message.data.length >= deflate.threshold;
    await conn.send(JSON.stringify(echoFrameReport(message, compressed)));
    await conn.send(message, { transfer: true });
  }
}

/** A compressed message: its payload bytes on the wire and after inflation. */
export function messageReport(wireBytes: number, inflatedBytes: number) {
  return { type: INSPECT_TAG, kind: "message", compressed: true, wireBytes, inflatedBytes };
}

/** The handshake computation: key + GUID → SHA-1 → base64 = Sec-WebSocket-Accept. */
export async function handshakeReport(
  h: Pick<HandshakeInfo, "key" | "accept"> & { extensions?: string },
) {
  const concatenated = h.key + WEBSOCKET_GUID;
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-1", new TextEncoder().encode(concatenated)),
  );
  return {
    type: INSPECT_TAG,
    kind: "handshake",
    key: h.key,
    guid: WEBSOCKET_GUID,
    concatenated,
    sha1Hex: hex(digest),
    accept: h.accept,
    /** The Sec-WebSocket-Extensions answer (the parameters in force), or null. */
    extensions: h.extensions ?? null,
  };
}

/** What one frame looked like on the wire (from its first piece). */
export function frameReport(f: FramePiece) {
  const extended = f.headerLength - 4 - 2; // 0, 2 or 8 bytes of extended length
  const shown = f.payload.subarray(0, INSPECT_PAYLOAD_BYTES);
  const masked = shown.slice(); // re-mask a copy: the payload itself was unmasked in place
  applyMask(masked, f.maskKey, 0);
  return {
    type: INSPECT_TAG,
    kind: "frame",
    direction: "in",
    fin: f.fin,
    rsv1: (f.rsv & 4) !== 0,
    rsv2: (f.rsv & 2) !== 0,
    rsv3: (f.rsv & 1) !== 0,
    opcode: f.opcode,
    opcodeName: OPCODE_NAMES[f.opcode] ?? "reserved",
    mask: true, // the decoder refuses unmasked client frames (1002) before any report
    lengthEncoding: extended === 0 ? "7-bit" : extended === 2 ? "16-bit" : "64-bit",
    payloadLength: f.length,
    headerBytes: f.headerLength,
    maskKey: hex(new Uint8Array([f.maskKey >>> 24, f.maskKey >>> 16, f.maskKey >>> 8, f.maskKey])),
    payloadMasked: hex(masked),
    payloadUnmasked: hex(shown),
    shownBytes: shown.length,
    truncated: shown.length < f.length,
  };
}

/**
 * The frame the server's echo of `m` goes out as: one unmasked, final frame, its header written
 * by the encoder's own writeHeader (RFC 6455 §5.2; servers never mask, §5.1).
 */
export function echoFrameReport(m: Pick<Message, "type" | "data">, compressed = false) {
  const opcode = m.type === "text" ? Opcode.Text : Opcode.Binary;
  const length = m.data.length;
  if (compressed) {
    // Compressed as it is sent (RSV1 set): its bytes on the wire are not known here.
    return {
      type: INSPECT_TAG,
      kind: "frame",
      direction: "out",
      compressed: true,
      fin: true,
      rsv1: true,
      opcode,
      opcodeName: OPCODE_NAMES[opcode],
      mask: false,
      inflatedLength: length,
    };
  }
  const header = new Uint8Array(headerLength(length));
  writeHeader(header, 0, opcode, true, length);
  const shown = m.data.subarray(0, INSPECT_PAYLOAD_BYTES);
  return {
    type: INSPECT_TAG,
    kind: "frame",
    direction: "out",
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode,
    opcodeName: OPCODE_NAMES[opcode],
    mask: false,
    lengthEncoding: header.length === 2 ? "7-bit" : header.length === 4 ? "16-bit" : "64-bit",
    payloadLength: length,
    headerBytes: header.length,
    header: hex(header),
    payload: hex(shown),
    shownBytes: shown.length,
    truncated: shown.length < length,
  };
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b & 0xff).toString(16).padStart(2, "0");
  return s;
}
