// A WebSocket connection as an async iterator of messages: a thin driver that moves bytes
// socket → decoder → session → application, and application → session → encoder → write queue.
// What it owns is the lifecycle; input memory, the write queue and the timers have their own
// modules, and the protocol is the Session's.

import type { PerMessageDeflate } from "../protocol/deflate.ts";
import { CloseCode, type FramePiece, type Hold, type OutFrame } from "../protocol/frame.ts";
import { type EncodedBatch, headerLength } from "../protocol/frame_encoder.ts";
import { Message, Session, type State } from "../protocol/session.ts";
import { Codec } from "./codec.ts";
import { InputMemory } from "./input_memory.ts";
import { type KeepaliveTiming, Liveness } from "./liveness.ts";
import { PeerGone, type Socket } from "./socket.ts";
import { WriteQueue } from "./write_queue.ts";

/** Limits and timeouts of one connection. */
export interface ConnectionOptions {
  /** Largest message accepted, summed over fragments (1009 above it). */
  maxMessage: number;
  /** How long to wait for the peer's close frame after ours before dropping TCP (ms). */
  closeTimeout: number;
  /** Bytes of outgoing data queued above which send() waits and the connection is not read. */
  maxBackpressure: number;
}

/**
 * What the opening handshake said, for applications that want to show or log it. (Not the whole
 * request head: its header map would be parked on every open connection.)
 */
export interface HandshakeInfo {
  /** The request-target the client upgraded. */
  path: string;
  /** The client's Sec-WebSocket-Key and the Sec-WebSocket-Accept computed from it. */
  key: string;
  accept: string;
  /** The peer's address, "host:port". */
  remote: string;
  /** The Sec-WebSocket-Extensions response header, if an extension was agreed. */
  extensions?: string;
  /** The subprotocol the 101 selected, if any. */
  protocol?: string;
}

/** How a connection ended. */
export interface CloseInfo {
  /** The close code sent or received first; 1006 when TCP ended without a close frame. */
  code: number;
  reason: string;
  /** True when both close frames were exchanged. */
  clean: boolean;
}

/** What a connection is made of besides its socket. */
export interface ConnectionParts {
  options: ConnectionOptions;
  /** Its input memory (the one the request head was read with, if any). */
  memory?: InputMemory;
  /** Bytes that arrived after the request head: the first input. */
  initial?: Uint8Array;
  handshake?: HandshakeInfo | null;
  /** A number naming the connection in logs. */
  id?: number;
  /** permessage-deflate, if agreed in the handshake. */
  deflate?: PerMessageDeflate | null;
  /** Called as the connection becomes CLOSED, before `closed` resolves. */
  onClosed?: (conn: WebSocketConnection) => void;
}

// Sends made while a message is being handled wait for the next read to go out together, unless
// this many bytes pile up first.
const FLUSH_BYTES = 64 * 1024;
// Payload still to come, at or above which a frame's bytes are read in place.
const DIRECT_READ_MIN = 16 * 1024;
const DONE: IteratorResult<Message> = { value: undefined, done: true };
const RESOLVED = Promise.resolve();
const toDone = () => DONE;
const NOTHING: EncodedBatch = { chunks: [], holds: [] };
const ORDER: Record<State, number> = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };

/**
 * One WebSocket connection. Iterate it for messages (`for await (const m of conn)`); the
 * iteration ends when the connection is CLOSED. Pings, pongs, the close handshake and protocol
 * errors are handled inside, in the order the peer's frames arrived. Leaving the loop early
 * (break, or an exception) does not close it: its owner does (the server closes with 1000 when
 * the application returns, 1011 when it throws).
 */
export class WebSocketConnection implements AsyncIterableIterator<Message> {
  /** A number naming the connection in logs. */
  readonly id: number;
  /** The handshake that opened this connection (absent in tests that build one by hand). */
  readonly handshake: HandshakeInfo | null;
  /** Observer of every decoded batch of frames, before they are applied (for /inspect). */
  onFrames: ((frames: readonly FramePiece[]) => void) | null = null;
  /** Messages and payload bytes delivered to the application and sent by it. */
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Bytes read from the socket after the request head (frames, headers included). */
  wireBytesIn = 0;
  /**
   * The protocol error that failed the connection, if one did: its close code, reason, and how
   * many bytes had arrived when it was found (the offending byte is within the last read).
   */
  protocolError: { code: number; reason: string; atByte: number } | null = null;

  #state: State = "CONNECTING";
  readonly #options: ConnectionOptions;
  readonly #socket: Socket;
  readonly #session: Session;
  readonly #memory: InputMemory;
  readonly #output: WriteQueue;
  readonly #liveness = new Liveness();
  readonly #deflate: PerMessageDeflate | null;
  readonly #onClosed: ((conn: WebSocketConnection) => void) | null;
  // Made with the first input or output: a stream pair holds ~4.5 KB of heap, too much to
  // park on every idle connection.
  #codec: Codec | null = null;
  #initial: Uint8Array | null;
  // The message delivered last, until the next turn: if it was not handed back with
  // send(m, { transfer: true }) by then, the application keeps it. (Every delivery is made in a
  // turn that first settles the one before, so there is never more than one.)
  #delivered: Message | null = null;
  #handling = false; // the application handles what the last read brought
  #reading: Promise<boolean> | null = null;
  #halfClosed = false;
  #goingAway: { code: number; reason: string; grace: number } | null = null;
  #finishing: Promise<void> | null = null;
  readonly #closed: PromiseWithResolvers<CloseInfo> = Promise.withResolvers();

  constructor(socket: Socket, parts: ConnectionParts) {
    this.#socket = socket;
    this.#options = parts.options;
    this.#memory = parts.memory ?? new InputMemory();
    this.#initial = parts.initial !== undefined && parts.initial.length > 0 ? parts.initial : null;
    this.handshake = parts.handshake ?? null;
    this.id = parts.id ?? 0;
    this.#deflate = parts.deflate ?? null;
    this.#onClosed = parts.onClosed ?? null;
    this.#session = new Session({
      maxMessage: parts.options.maxMessage,
      allocate: this.#memory.allocateMessage,
      deflate: this.#deflate,
    });
    this.#output = new WriteQueue(
      (b) => socket.write(b),
      this.#writeFailed,
      parts.options.maxBackpressure,
    );
  }

  /** CONNECTING → OPEN → CLOSING → CLOSED (once the socket is released). */
  get state(): State {
    return this.#state;
  }

  /** Resolves once the connection is CLOSED and its socket released. */
  get closed(): Promise<CloseInfo> {
    return this.#closed.promise;
  }

  /** True while more than maxBackpressure bytes wait to be written (input is not read). */
  get backpressured(): boolean {
    return this.#output.full;
  }

  /** permessage-deflate as agreed, or null. */
  get deflate(): PerMessageDeflate | null {
    return this.#deflate;
  }

  /** Bytes of input memory the connection holds. */
  get memoryBytes(): number {
    return this.#memory.bytes;
  }

  /** Writes the handshake response and moves to OPEN; false if the peer is gone. */
  async open(response: Uint8Array): Promise<boolean> {
    this.#output.reserve(response.length);
    this.#output.push({ chunks: [response], holds: [] });
    await this.#output.whenEmpty();
    if (this.#output.failed) return false;
    this.#moveTo("OPEN");
    if (this.#goingAway !== null) this.#armGrace(); // a drain began during the handshake
    return true;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return this;
  }

  /** The next message, or done once the connection is CLOSED. */
  next(): Promise<IteratorResult<Message>> {
    this.#handling = false;
    const r = this.#turn();
    return r instanceof Promise ? r : Promise.resolve(r);
  }

  /**
   * Sends a message (a string is sent as text, bytes as binary). Resolves at once unless more
   * than maxBackpressure bytes are queued, then once they have drained: await it. Messages sent
   * after the closing handshake began are dropped. With `transfer`, a received message is
   * handed back: its memory may take later input once it is sent, so nothing may hold it any
   * more (neither the application nor a send of it on another connection).
   */
  send(
    message: Message | string | Uint8Array,
    options?: { transfer?: boolean },
  ): Promise<void> {
    const m = message instanceof Message
      ? message
      : typeof message === "string"
      ? Message.text(message)
      : Message.binary(message);
    if (this.#state !== "OPEN") return RESOLVED;
    let hold: Hold | null = null;
    if (options?.transfer === true) {
      hold = m.hold; // the application's claim moves to the frame
      m.hold = null;
    } else {
      hold = m.hold?.share() ?? null; // a claim of the frame's own, whichever connection's
    }
    if (!this.#session.send(m, hold)) {
      hold?.release();
      return RESOLVED;
    }
    this.messagesOut++;
    this.bytesOut += m.data.length;
    // Batch only while the application handles what the last read brought (the next call to
    // next() writes the batch); otherwise, a send from a timer say, write now.
    if (!this.#handling || this.#session.outboxBytes >= FLUSH_BYTES) this.#flush();
    return this.#output.full ? this.#output.whenNotFull() : RESOLVED;
  }

  /** Sends a ping (for keepalive); its pong is ignored. */
  ping(payload: Uint8Array = new Uint8Array(0)): void {
    if (this.#state === "OPEN" && this.#session.ping(payload)) this.#flush();
  }

  /** Starts the closing handshake and resolves when the connection is CLOSED. */
  close(code: number = CloseCode.Normal, reason = ""): Promise<CloseInfo> {
    if (this.#state === "CONNECTING") {
      this.#session.abort();
      this.#finish();
      return this.#closed.promise;
    }
    this.#session.close(code, reason);
    this.#flush();
    // Armed here too: a read already pending when we close would not arm it.
    if (this.#session.state === "CLOSING") this.#armCloseTimer();
    this.#readUntilClosed();
    return this.#closed.promise;
  }

  /**
   * Closes with `code` once what the peer has already sent has been echoed: when no input has
   * arrived for `grace` ms (bytes still in the socket are read and handled first).
   */
  shutdown(code: number, reason: string, grace: number): Promise<CloseInfo> {
    if (this.#goingAway === null && this.#state !== "CLOSED") {
      this.#goingAway = { code, reason, grace };
      if (this.#state === "OPEN") this.#armGrace(); // else when open() has sent the 101
    }
    return this.#closed.promise;
  }

  /**
   * Keepalive, called periodically by the server with the current time: pings a connection
   * that has received nothing for the ping interval, and drops one that then stays silent for
   * the ping timeout (a close frame 1001 is sent, but TCP is closed without waiting).
   */
  keepalive(now: number, timing: KeepaliveTiming): void {
    const action = this.#liveness.sweep(now, timing);
    if (action === "active") return;
    this.#memory.trim(); // quiet since the last sweep: park no spare buffer
    if (this.#state !== "OPEN") return;
    if (action === "ping") this.ping();
    else if (action === "dead") {
      this.#session.close(CloseCode.GoingAway, "ping timeout");
      this.#flush();
      this.#armCloseTimer();
      this.#whenWritten().then(() => this.#abort());
    }
  }

  // The lifecycle's one place of change; it only moves forward.
  #moveTo(next: State): void {
    if (ORDER[next] > ORDER[this.#state]) this.#state = next;
  }

  // The next message if one is waiting, else a read and another turn. (Not an async function:
  // its suspended frame would be parked on every idle connection.)
  #turn(): IteratorResult<Message> | Promise<IteratorResult<Message>> {
    const s = this.#session;
    this.#keepDelivered();
    const m = s.next();
    if (m !== null) {
      // A message read in one piece is a view of a read slab: claim it for the application.
      if (m.hold === null) m.hold = this.#memory.claim(m.data);
      this.#delivered = m;
      this.#handling = true;
      this.messagesIn++;
      this.bytesIn += m.data.length;
      return { value: m, done: false };
    }
    this.#flush();
    if (s.state === "CLOSED") return this.#finish().then(toDone);
    return this.#read().then(this.#afterRead);
  }

  #afterRead = (more: boolean) => more ? this.#turn() : this.#finish().then(toDone);

  // A message the application moved on from without handing back is its own for good.
  #keepDelivered(): void {
    const m = this.#delivered;
    if (m === null) return;
    this.#delivered = null;
    const hold = m.hold;
    if (hold !== null) {
      m.hold = null;
      this.#memory.keep(hold);
    }
  }

  // Reads one chunk and feeds it through the decoder to the session; false at end of input.
  // Shared, so that an iterating application and a background close never read at once.
  #read(): Promise<boolean> {
    return this.#reading ??= this.#readChunk();
  }

  // (One async function, not two: every suspended frame is parked on every idle connection.)
  async #readChunk(): Promise<boolean> {
    try {
      const s = this.#session;
      if (s.state === "CLOSING") this.#armCloseTimer();
      // Backpressure: while too much waits to be written, do not read (so the peer's sending
      // stalls in TCP instead of growing our memory).
      if (this.#output.full) await this.#output.whenNotFull();
      let chunk = this.#initial;
      if (chunk !== null) this.#initial = null;
      else {
        // In the middle of a large frame, read straight into the reassembly buffer.
        const target = s.directReadTarget(DIRECT_READ_MIN);
        const n = await this.#socket.read(target ?? this.#memory.readBuffer());
        // (A detached target is a reassembly buffer freed under a read cancelled by close.)
        if (n === null || this.#output.failed || (target !== null && target.length === 0)) {
          s.abort();
          return false;
        }
        chunk = target !== null ? target.subarray(0, n) : this.#memory.commit(n);
      }
      this.wireBytesIn += chunk.length;
      this.#liveness.input();
      if (this.#goingAway !== null) this.#armGrace(); // input still flowing: not quiet yet
      const r = await (this.#codec ??= new Codec(this.#options.maxMessage, this.#deflate !== null))
        .decode(chunk);
      if (r.done) return false;
      const { frames, error } = r.value;
      if (frames.length > 0) {
        if (this.onFrames !== null) this.onFrames(frames);
        s.receive(frames);
      }
      if (error !== null) s.fail(error, { brokenInput: true });
      if (s.failure !== null && this.protocolError === null) {
        this.protocolError = { ...s.failure, atByte: this.wireBytesIn };
      }
      return true;
    } finally {
      this.#reading = null;
    }
  }

  // Keeps reading after the application stopped, until the peer's close arrives (or TCP ends).
  // Never rejects: it runs unawaited, and the connection must finish whatever happens.
  async #readUntilClosed(): Promise<void> {
    const s = this.#session;
    try {
      for (;;) {
        while (s.next() !== null); // messages that crossed our close frame are dropped
        this.#flush();
        if (s.state === "CLOSED" || !(await this.#read())) break;
      }
    } catch (err) {
      // Reads end with null on every socket error we know of: this is a fault, reported with
      // its stack; the connection ends all the same.
      s.abort();
      reportError(err);
    }
    await this.#finish();
  }

  // Hands the session's pending frames to the encoder; its output joins the write queue.
  #flush(): void {
    const s = this.#session;
    if (s.state !== "OPEN") this.#moveTo("CLOSING");
    const frames = s.takeOutbox();
    if (frames === null) return;
    if (this.#output.failed) return releaseHolds(frames);
    let size = 0;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i], n = f.payload.length;
      // A payload that is a view of input (a pong's, an echoed close's) is claimed until the
      // encoder has copied or written it.
      if (f.hold == null && n > 0) f.hold = this.#memory.claim(f.payload);
      size += headerLength(n) + n;
    }
    // Counted from now, not from when the encoder's output arrives: backpressure applies to
    // the send and the read that follow at once.
    this.#output.reserve(size);
    const codec = this.#codec ??= new Codec(this.#options.maxMessage, this.#deflate !== null);
    codec.encode(frames).then(this.#onEncoded);
    // After a framing error the peer's bytes are meaningless: follow our close frame with FIN
    // so that the peer sees the close and then the end of the stream.
    if (s.brokenInput && s.state !== "OPEN" && !this.#halfClosed) {
      this.#halfClosed = true;
      this.#whenWritten().then(() => {
        if (!this.#output.failed) this.#socket.closeWrite().catch(ignoreGone);
      });
    }
  }

  #onEncoded = (r: ReadableStreamReadResult<EncodedBatch>) => {
    this.#output.push(r.done ? NOTHING : r.value); // (done: the codec was closed meanwhile)
  };

  // Resolves once every frame flushed so far has been written (or writing failed).
  #whenWritten(): Promise<void> {
    return this.#output.whenEmpty();
  }

  #writeFailed = (): void => {
    // The peer is gone: nothing more can be written, and nothing more will be read.
    this.#abort();
  };

  #abort(): void {
    this.#session.abort();
    this.#socket.close();
  }

  #armCloseTimer(): void {
    this.#liveness.armClose(this.#options.closeTimeout, () => this.#abort());
  }

  #armGrace(): void {
    const g = this.#goingAway!;
    this.#liveness.armGrace(g.grace, () => {
      if (this.#session.state === "OPEN") this.close(g.code, g.reason);
    });
  }

  #finish(): Promise<void> {
    return this.#finishing ??= (async () => {
      this.#flush();
      // Let queued frames (our close reply above all) reach the socket, but not for longer
      // than the close timeout: a peer that does not read must not hold us.
      this.#armCloseTimer();
      await this.#whenWritten();
      this.#liveness.dispose();
      this.#socket.close();
      this.#codec?.close();
      this.#session.abort(); // gives back a message in progress (and its inflater)
      this.#deflate?.dispose();
      this.#memory.dispose();
      this.#moveTo("CLOSED");
      this.#onClosed?.(this);
      const s = this.#session;
      this.#closed.resolve({ code: s.closeCode, reason: s.closeReason, clean: s.cleanClose });
    })();
  }
}

// closeWrite on a socket the peer has already reset: nothing left to tell it. Anything else
// is a fault, reported with its stack.
const ignoreGone = (err: unknown) => {
  if (!(err instanceof PeerGone)) reportError(err);
};

function releaseHolds(frames: OutFrame[]): void {
  for (const f of frames) f.hold?.release();
}
