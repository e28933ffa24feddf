// RFC 6455 §5.2 vocabulary shared by the decoder, encoder and session.

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Names of the opcodes, as reports and the terminal client print them. */
export const OPCODE_NAMES: Readonly<Record<number, string>> = {
  [Opcode.Continuation]: "continuation",
  [Opcode.Text]: "text",
  [Opcode.Binary]: "binary",
  [Opcode.Close]: "close",
  [Opcode.Ping]: "ping",
  [Opcode.Pong]: "pong",
};

/** Close status codes this server sends (RFC 6455 §7.4.1). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  NoStatus: 1005,
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  TryAgainLater: 1013,
} as const;

/** Largest payload of a control frame (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/**
 * What the decoder hands on: a whole frame, or one piece of a data frame whose payload spans
 * several reads. Pieces of one frame share the header fields; `offset` is where this piece starts
 * within the frame's payload, `first` marks the first piece (passed on as soon as the header is
 * complete) and `end` the last. Control frames are always whole.
 */
export interface FramePiece {
  fin: boolean;
  /** RSV1-3 as a 3-bit number (bit 2 = RSV1). */
  rsv: number;
  opcode: number;
  /** Declared payload length of the whole frame. */
  length: number;
  /** The client's masking key, as the four bytes read big-endian (0 in a server's frame). */
  maskKey: number;
  /** Bytes of header on the wire: 2, 4 or 10, plus 4 for the masking key. */
  headerLength: number;
  /** This piece's payload, already unmasked. */
  payload: Uint8Array;
  offset: number;
  /** True on a frame's first piece (which is empty when the header came without payload). */
  first: boolean;
  end: boolean;
}

/**
 * A claim on memory that someone else owns and may reuse: the bytes stay as they are until
 * release() is called, exactly once per claim.
 */
export interface Hold {
  release(): void;
  /** Another claim on the same memory, released on its own. */
  share(): Hold;
  /** Bytes right before the held message's data that the holder may write over (0: none). */
  readonly headroom: number;
}

/** A frame the server sends: never masked; RSV1 only on a compressed message's frame. */
export interface OutFrame {
  opcode: number;
  fin: boolean;
  /** The payload is compressed (permessage-deflate): RSV1 is set. */
  rsv1?: boolean;
  payload: Uint8Array;
  /**
   * Bytes right before `payload` in its buffer that belong to no one (room left for a header):
   * the encoder may write the frame's header there and send header and payload as one uncopied
   * chunk. Absent or 0: none.
   */
  headroom?: number;
  /** The claim that keeps `payload` intact; released once the payload is copied or written. */
  hold?: Hold | null;
}

/** A violation of the protocol, carrying the close code that answers it. */
export class ProtocolError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** True for opcodes 0x8-0xF (RFC 6455 §5.5). */
export function isControl(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** True for a close code a peer may send in a close frame (RFC 6455 §7.4). */
export function isValidCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true; // registered (3xxx) and private (4xxx) use
  if (code < 1000 || code > 1014) return false;
  // 1004 is reserved; 1005/1006/1015 must never be sent on the wire.
  return code !== 1004 && code !== 1005 && code !== 1006;
}

/**
 * Queuing strategies of the codec's TransformStreams. With the spec's defaults (writable 1,
 * readable 0) every chunk flips both sides' backpressure on and off, and each flip makes a
 * promise; one chunk in flight on each side fits these, so a chunk costs no flip.
 */
export const CODEC_WRITABLE_STRATEGY: QueuingStrategy = { highWaterMark: 2 };
export const CODEC_READABLE_STRATEGY: QueuingStrategy = { highWaterMark: 1 };
