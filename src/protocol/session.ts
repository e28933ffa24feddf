// The WebSocket state machine without I/O (RFC 6455 §5.4-5.5, §7): frames in, messages and
// frames to send out. Synchronous and deterministic, so every rule is testable frame by frame.

import {
  CloseCode,
  type FramePiece,
  type Hold,
  isValidCloseCode,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  type OutFrame,
  ProtocolError,
} from "./frame.ts";
import { isValidUtf8, Utf8Validator } from "./utf8.ts";
import {
  DEFLATE_TAIL,
  deflateStats,
  InflateError,
  type Inflater,
  type PerMessageDeflate,
} from "./deflate.ts";

/** Connection states (RFC 6455 §4.1, §7.1.3-4; the names of the browser API's readyState). */
export type State = "CONNECTING" | "OPEN" | "CLOSING" | "CLOSED";

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** A whole message: text (valid UTF-8 bytes) or binary. */
export class Message {
  /**
   * The claim that keeps `data` intact while the message is handed around (set by whoever owns
   * the memory under it; null for a message made from a string or the application's bytes).
   */
  hold: Hold | null;

  constructor(
    readonly type: "text" | "binary",
    readonly data: Uint8Array,
    hold: Hold | null = null,
  ) {
    this.hold = hold;
  }

  /** The payload decoded as UTF-8 (text messages are validated on arrival). */
  get text(): string {
    return textDecoder.decode(this.data);
  }

  /** A text message holding `text` encoded as UTF-8. */
  static text(text: string): Message {
    return new Message("text", textEncoder.encode(text));
  }

  /** A binary message holding `data` (not copied). */
  static binary(data: Uint8Array): Message {
    return new Message("binary", data);
  }
}

/** Bytes kept free before a reassembled message, for the header of its echo (see OutFrame). */
export const HEADROOM = 10;

/**
 * A reassembly buffer: `bytes` is the room for the data; releasing it hands it back. `grow`, if
 * present, enlarges it in place (`bytes` is then a new view of the same memory, the data kept);
 * false when memory is short, null when it cannot grow that far in place.
 */
export interface MessageBuffer extends Hold {
  readonly bytes: Uint8Array;
  grow?(size: number): boolean | null;
}

/**
 * Where reassembly buffers come from: a buffer of at least `size` bytes with HEADROOM free
 * bytes before it, that will never need to hold more than `max`; or null when memory is short
 * (the message is then refused with 1013).
 */
export type AllocateMessage = (size: number, max: number) => MessageBuffer | null;

/** The smallest reassembly buffer made for a message whose end is not yet in sight. */
export const MIN_MESSAGE_BUFFER = 64 * 1024;

/** A message of at most this many bytes, its end in sight, gets its whole buffer at once. */
export const ONE_SHOT_MESSAGE = 1024 * 1024;

/** The session's limits, and where its reassembly buffers come from. */
export interface SessionOptions {
  /** Largest message, summed over its fragments (1009 above it). */
  maxMessage: number;
  /** Reassembly buffers (default: fresh allocations, garbage-collected). */
  allocate?: AllocateMessage;
  /** permessage-deflate, when agreed: RSV1 messages are inflated, sent ones compressed. */
  deflate?: PerMessageDeflate | null;
}

// A compressed message's buffer starts at this many times its first frame's size (then doubles).
const INFLATE_GUESS = 4;
const MIN_INFLATE_BUFFER = 1024;
const probe = new Uint8Array(1);

/** A reassembly buffer nobody else accounts for (tests, and sessions without a memory owner). */
export const allocateFresh: AllocateMessage = (size) => ({
  bytes: new Uint8Array(HEADROOM + size).subarray(HEADROOM),
  headroom: HEADROOM,
  release() {},
  share() {
    return this;
  },
});

// Events are kept in arrival order so that replies leave in the order their causes came in:
// the echo of a message sent before a ping goes out before the pong, a close after them all.
type Control =
  | { kind: "ping"; payload: Uint8Array }
  | { kind: "close"; payload: Uint8Array }
  | { kind: "fail"; code: number; reason: string; peerClosed: boolean };
type Event = Message | Control;

/**
 * One connection's protocol state after the opening handshake. Feed it decoded frames with
 * `receive`; take messages with `next`, which also applies the control frames that came before
 * them; collect frames to write with `takeOutbox`. Nothing here awaits or touches a socket.
 */
export class Session {
  #state: State = "OPEN";
  #events: Event[] = [];
  #head = 0;
  #outbox: OutFrame[] = [];
  #outboxBytes = 0;
  readonly #maxMessage: number;
  readonly #allocate: AllocateMessage;
  readonly #deflate: PerMessageDeflate | null;
  // The inflater of the compressed message being received (null: none, or not compressed).
  #inflater: Inflater | null = null;

  // The message being reassembled: its opcode (0 = none), buffer, bytes so far, UTF-8 state.
  #msgOpcode = 0;
  #msgBuf: MessageBuffer | null = null;
  #msgSize = 0;
  #msgSingle: Uint8Array | null = null; // whole message in one piece: passed on uncopied
  #frameRemaining = 0; // payload bytes of the current data frame not yet received
  readonly #utf8 = new Utf8Validator();

  // Input is ignored after a close frame or a failure, except for the peer's close reply.
  #inputDone = false;
  #closeQueued = false;
  /** The close code sent or received first (1005 for an empty close, 1006 for none). */
  closeCode: number = CloseCode.Abnormal;
  /** The close reason that went with closeCode. */
  closeReason = "";
  /** True when the peer's byte stream is unusable (a framing error): expect no close reply. */
  brokenInput = false;
  /** True once both close frames have been exchanged. */
  cleanClose = false;
  /** The first failure recorded (the close code it answers with, and why), for logs. */
  failure: { code: number; reason: string } | null = null;

  constructor(options: SessionOptions) {
    this.#maxMessage = options.maxMessage;
    this.#allocate = options.allocate ?? allocateFresh;
    this.#deflate = options.deflate ?? null;
  }

  /** The current state: OPEN, CLOSING (our close sent, awaiting the peer's), or CLOSED. */
  get state(): State {
    return this.#state;
  }

  /** Bytes of payload waiting in the outbox. */
  get outboxBytes(): number {
    return this.#outboxBytes;
  }

  /** Applies decoded frames: reassembles messages and queues control events in order. */
  receive(frames: readonly FramePiece[]): void {
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i];
      if (this.#inputDone) {
        // Only a close frame still matters: it completes a close we started.
        if (f.opcode === Opcode.Close && !this.#closeQueued) {
          this.#closeQueued = true;
          this.#events.push({ kind: "close", payload: f.payload });
        }
        continue;
      }
      if (f.opcode >= Opcode.Close) this.#receiveControl(f);
      else this.#receiveData(f);
    }
  }

  /**
   * Records a failure: the connection is failed with the error's close code. `brokenInput`: the
   * peer's byte stream is unusable (a framing error); `peerClosed`: it was the peer's (malformed)
   * close frame, so no close reply will follow.
   */
  fail(
    error: ProtocolError,
    how: { brokenInput?: boolean; peerClosed?: boolean } = {},
  ): void {
    if (how.brokenInput) this.brokenInput = true;
    if (this.#inputDone) return;
    this.failure = { code: error.code, reason: error.message };
    this.#inputDone = true;
    this.#dropMessage();
    this.#events.push({
      kind: "fail",
      code: error.code,
      reason: error.message,
      peerClosed: how.peerClosed === true,
    });
  }

  /**
   * Returns the next message for the application, first applying the control events queued
   * before it (pongs, close replies, failures). Null when none is waiting.
   */
  next(): Message | null {
    const events = this.#events;
    while (this.#head < events.length) {
      const ev = events[this.#head++];
      if (ev instanceof Message) {
        if (this.#state === "OPEN") return ev;
        ev.hold?.release(); // we already sent close: data that crossed it is dropped
        continue;
      }
      if (ev.kind === "ping") {
        if (this.#state === "OPEN") this.#queue(Opcode.Pong, ev.payload);
      } else if (ev.kind === "close") {
        this.#applyClose(ev.payload);
      } else if (this.#state === "OPEN") {
        this.#sendClose(ev.code, truncateReason(ev.reason));
        // A malformed close frame from the peer was still its close: no reply will follow.
        if (ev.peerClosed) this.#state = "CLOSED";
      }
    }
    events.length = 0;
    this.#head = 0;
    return null;
  }

  /**
   * Queues a message to send; false when the connection no longer accepts messages. `hold`
   * keeps the data intact until it is copied or written; its headroom may take the header.
   */
  send(message: Message, hold: Hold | null = null): boolean {
    if (this.#state !== "OPEN") return false;
    const opcode = message.type === "text" ? Opcode.Text : Opcode.Binary;
    const d = this.#deflate;
    if (d !== null && message.data.length >= d.threshold) {
      const payload = d.compress(message.data, HEADROOM);
      hold?.release(); // copied into the compressed form
      this.#outbox.push({ opcode, fin: true, rsv1: true, payload, headroom: HEADROOM, hold: null });
      this.#outboxBytes += payload.length;
      return true;
    }
    this.#queue(opcode, message.data, hold);
    return true;
  }

  /** Queues a ping (used for keepalive). */
  ping(payload: Uint8Array): boolean {
    if (this.#state !== "OPEN") return false;
    this.#queue(Opcode.Ping, payload);
    return true;
  }

  /** Starts the closing handshake with `code` and `reason` (no-op unless OPEN). */
  close(code: number = CloseCode.Normal, reason = ""): void {
    if (this.#state !== "OPEN") return;
    this.#sendClose(code, reason);
  }

  /** Marks the connection closed without a handshake (TCP gone, or a timeout). */
  abort(): void {
    this.#state = "CLOSED";
    this.#inputDone = true;
    this.#dropMessage();
    this.next(); // messages still queued are dropped, and their memory given back
  }

  /**
   * Where the rest of the current data frame's payload belongs in the reassembly buffer, when at
   * least `minBytes` of it are still to come: reading input straight into it saves the copy.
   * Null otherwise (between frames, or when nothing is being reassembled).
   */
  directReadTarget(minBytes: number): Uint8Array | null {
    const buf = this.#msgBuf?.bytes;
    if (this.#frameRemaining < minBytes || buf === undefined || this.#inputDone) return null;
    if (this.#inflater !== null) return null; // compressed bytes are inflated, not kept
    // The buffer grows with what arrives: read into the room it has, when that is worth it
    // (else the read goes to a slab, and appending it grows the buffer).
    const room = buf.length - this.#msgSize;
    if (room < minBytes) return null;
    return buf.subarray(this.#msgSize, this.#msgSize + Math.min(room, this.#frameRemaining));
  }

  /** Takes the frames waiting to be written, or null. */
  takeOutbox(): OutFrame[] | null {
    if (this.#outbox.length === 0) return null;
    const out = this.#outbox;
    this.#outbox = [];
    this.#outboxBytes = 0;
    return out;
  }

  #queue(opcode: number, payload: Uint8Array, hold: Hold | null = null): void {
    this.#outbox.push({ opcode, fin: true, payload, headroom: hold?.headroom ?? 0, hold });
    this.#outboxBytes += payload.length;
  }

  #sendClose(code: number, reason: string): void {
    const r = textEncoder.encode(reason);
    const payload = new Uint8Array(2 + r.length);
    payload[0] = code >>> 8;
    payload[1] = code & 0xff;
    payload.set(r, 2);
    this.#queue(Opcode.Close, payload);
    this.closeCode = code;
    this.closeReason = reason;
    this.#inputDone = true;
    this.#dropMessage(); // a message still being reassembled will never be delivered
    this.#state = "CLOSING";
  }

  // A close frame from the peer: either it opens the closing handshake (we echo it and are
  // done) or it answers ours.
  #applyClose(payload: Uint8Array): void {
    if (this.#state === "CLOSING") {
      this.#state = "CLOSED";
      this.cleanClose = true;
      return;
    }
    if (this.#state !== "OPEN") return;
    // Echo the peer's close payload: the same code and reason, byte for byte.
    this.#queue(Opcode.Close, payload);
    if (payload.length >= 2) {
      this.closeCode = (payload[0] << 8) | payload[1];
      this.closeReason = textDecoder.decode(payload.subarray(2));
    } else {
      this.closeCode = CloseCode.NoStatus;
    }
    this.#state = "CLOSED";
    this.cleanClose = true;
  }

  #receiveControl(f: FramePiece): void {
    if (f.opcode === Opcode.Ping) {
      this.#events.push({ kind: "ping", payload: f.payload });
    } else if (f.opcode === Opcode.Close) {
      const p = f.payload;
      const bad = (code: number, reason: string) =>
        this.fail(new ProtocolError(code, reason), { peerClosed: true });
      if (p.length === 1) return bad(CloseCode.ProtocolError, "1-byte close payload");
      if (p.length >= 2) {
        const code = (p[0] << 8) | p[1];
        if (!isValidCloseCode(code)) {
          return bad(CloseCode.ProtocolError, `invalid close code ${code}`);
        }
        if (!isValidUtf8(p.subarray(2))) {
          return bad(CloseCode.InvalidPayload, "close reason is not UTF-8");
        }
      }
      this.#inputDone = true;
      this.#closeQueued = true;
      this.#events.push({ kind: "close", payload: p });
    }
    // Unsolicited pongs are ignored (RFC 6455 §5.5.3).
  }

  #receiveData(f: FramePiece): void {
    const op = f.opcode;
    if (f.first) {
      if (op === Opcode.Continuation) {
        if (this.#msgOpcode === 0) {
          return this.#failWith(CloseCode.ProtocolError, "continuation frame with no message");
        }
      } else {
        if (this.#msgOpcode !== 0) {
          return this.#failWith(CloseCode.ProtocolError, "new message before the last ended");
        }
        this.#msgOpcode = op;
        this.#msgSize = 0;
        this.#utf8.reset();
        // The decoder lets RSV1 through only when permessage-deflate is agreed.
        if ((f.rsv & 4) !== 0) this.#inflater = this.#deflate!.beginMessage();
      }
      // A compressed message's limit applies to what it inflates to, as it grows.
      if (this.#inflater === null && this.#msgSize + f.length > this.#maxMessage) {
        return this.#failWith(
          CloseCode.MessageTooBig,
          `message exceeds ${this.#maxMessage} bytes`,
        );
      }
    }
    const piece = f.payload;
    this.#frameRemaining = f.length - f.offset - piece.length;
    if (this.#inflater !== null) return this.#receiveCompressed(piece, f.fin && f.end);
    if (this.#msgOpcode === Opcode.Text && !this.#utf8.push(piece)) {
      return this.#failWith(CloseCode.InvalidPayload, "text message is not valid UTF-8");
    }
    const whole = f.fin && f.end;
    if (whole && this.#msgSize === 0 && f.first) {
      // Fast path: the whole message arrived as one piece.
      this.#msgSingle = piece;
    } else if (!this.#append(piece, f)) {
      return this.#failWith(
        CloseCode.TryAgainLater,
        "message memory over the server's budget (--max-memory), try again later",
      );
    }
    if (!whole) return;
    this.#completeMessage();
  }

  // Hands on the message whose last piece has arrived.
  #completeMessage(): void {
    if (this.#msgOpcode === Opcode.Text && !this.#utf8.complete) {
      return this.#failWith(CloseCode.InvalidPayload, "text message ends inside a character");
    }
    let message: Message;
    const type = this.#msgOpcode === Opcode.Text ? "text" : "binary";
    if (this.#msgSingle !== null) {
      message = new Message(type, this.#msgSingle);
      this.#msgSingle = null;
    } else if (this.#msgBuf === null) {
      message = new Message(type, new Uint8Array(0)); // compressed, and empty
    } else {
      const buf = this.#msgBuf;
      message = new Message(type, buf.bytes.subarray(0, this.#msgSize), buf); // its hold goes along
      this.#msgBuf = null;
    }
    this.#events.push(message);
    this.#msgOpcode = 0;
    this.#msgSize = 0;
  }

  // Copies a piece into the reassembly buffer. The buffer grows with the bytes that have
  // arrived, not with what a header declares (a 16 MiB frame header alone must not cost 16 MiB):
  // it doubles, from MIN_MESSAGE_BUFFER, never past the message limit, nor past the declared
  // end of a final frame (the message's known total). It grows in place where it can; else
  // (a buffer without `grow`) into a new one, and doubling keeps those copies linear in the
  // message size. False when memory is short.
  #append(piece: Uint8Array, f: FramePiece): boolean {
    const need = this.#msgSize + piece.length;
    let buf = this.#msgBuf;
    if (buf === null || buf.bytes.length < need) {
      let max = this.#maxMessage;
      let size = Math.min(max, Math.max(MIN_MESSAGE_BUFFER, (buf?.bytes.length ?? 0) * 2));
      if (f.fin) {
        const end = this.#msgSize + (f.length - f.offset); // the message's known total
        size = Math.min(size, end);
        // A small enough message gets its whole buffer at once, of a fixed size: bounded, and
        // loops over views of growable buffers (the unmask) are several times slower.
        if (buf === null && end <= ONE_SHOT_MESSAGE) size = max = end;
      }
      size = Math.max(size, need);
      const grown = buf?.grow?.(size) ?? null;
      if (grown === false) return false;
      if (grown === null) {
        const next = this.#allocate(size, max);
        if (next === null) return false;
        if (buf !== null) {
          next.bytes.set(buf.bytes.subarray(0, this.#msgSize));
          buf.release();
        }
        buf = this.#msgBuf = next;
      }
    }
    // A piece read straight into place (see directReadTarget) is already there.
    const into = buf!.bytes;
    if (piece.buffer !== into.buffer || piece.byteOffset !== into.byteOffset + this.#msgSize) {
      into.set(piece, this.#msgSize);
    }
    this.#msgSize = need;
    return true;
  }

  // Inflates a piece of a compressed message into the reassembly buffer (and, after its last
  // piece, the tail the sender stripped, RFC 7692 §7.2.2), checking the size limit and UTF-8 as
  // the output grows: no more than the limit is ever produced.
  #receiveCompressed(piece: Uint8Array, last: boolean): void {
    deflateStats.inWire += piece.length;
    try {
      if (!this.#inflateInto(piece) || this.#inputDone) return;
      if (!last || !this.#inflateInto(DEFLATE_TAIL) || this.#inputDone) return;
    } catch (err) {
      if (!(err instanceof InflateError)) throw err;
      return this.#failWith(CloseCode.InvalidPayload, `invalid compressed data: ${err.message}`);
    }
    this.#deflate!.endMessage(this.#inflater!, true);
    this.#inflater = null;
    this.#completeMessage();
  }

  // False when the message was failed (too big, invalid UTF-8, no memory).
  #inflateInto(input: Uint8Array): boolean {
    const inf = this.#inflater!;
    let inOff = 0;
    for (;;) {
      let buf = this.#msgBuf;
      if (buf === null || this.#msgSize === buf.bytes.length) {
        if (this.#msgSize >= this.#maxMessage) {
          // At the limit: one more byte of output is one too many.
          const [w, c] = inf.inflate(input, inOff, input.length, probe, 0, 1);
          if (w > 0) {
            this.#failWith(CloseCode.MessageTooBig, `message exceeds ${this.#maxMessage} bytes`);
            return false;
          }
          inOff += c;
          if (inOff === input.length) return true;
          continue;
        }
        const guess = buf === null
          ? Math.max(MIN_INFLATE_BUFFER, input.length * INFLATE_GUESS)
          : buf.bytes.length * 2;
        const next = this.#allocate(Math.min(this.#maxMessage, guess), this.#maxMessage);
        if (next === null) {
          this.#failWith(CloseCode.TryAgainLater, "out of memory for messages, try again later");
          return false;
        }
        if (buf !== null) {
          next.bytes.set(buf.bytes.subarray(0, this.#msgSize));
          buf.release();
        }
        buf = this.#msgBuf = next;
      }
      const out = buf.bytes, at = this.#msgSize;
      const [written, consumed] = inf.inflate(input, inOff, input.length, out, at, out.length);
      inOff += consumed;
      this.#msgSize += written;
      deflateStats.inInflated += written;
      if (this.#msgOpcode === Opcode.Text && !this.#utf8.push(out.subarray(at, at + written))) {
        this.#failWith(CloseCode.InvalidPayload, "text message is not valid UTF-8");
        return false;
      }
      if (inOff === input.length && this.#msgSize < out.length) return true;
    }
  }

  // Gives back the buffer of a message that will never be completed.
  #dropMessage(): void {
    if (this.#inflater !== null) {
      this.#deflate!.endMessage(this.#inflater, false);
      this.#inflater = null;
    }
    this.#msgBuf?.release();
    this.#msgBuf = null;
    this.#msgSingle = null;
  }

  #failWith(code: number, reason: string): void {
    this.fail(new ProtocolError(code, reason));
  }
}

// A close reason must fit a control frame with its 2-byte code.
function truncateReason(reason: string): string {
  const max = MAX_CONTROL_PAYLOAD - 2;
  if (reason.length <= max / 3) return reason;
  const bytes = textEncoder.encode(reason);
  if (bytes.length <= max) return reason;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // do not cut a character in two
  return textDecoder.decode(bytes.subarray(0, end));
}
