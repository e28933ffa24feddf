// A WebSocket connection as an async iterator of messages: the Session state machine driven by a
// FrameDecoder reading the peer's bytes and a FrameEncoder writing ours. The only I/O it knows is
// the two byte streams and a Transport to shut the socket with.

import type { RequestHead } from "../http/request_head.ts";
import { CloseCode, type Frame, type OutFrame, ProtocolError } from "./frame.ts";
import { type DecodedChunk, FrameDecoder } from "./frame_decoder.ts";
import { FrameEncoder } from "./frame_encoder.ts";
import { Message, Session, type State } from "./session.ts";

/** What a connection needs of its socket beyond the byte streams. */
export interface Transport {
  /** Sends FIN after the last byte written: the peer may still send. */
  closeWrite(): void | Promise<void>;
  /** Closes the socket (idempotent). */
  close(): void;
}

/** Limits and timeouts of one connection. */
export interface ConnectionOptions {
  /** Largest message accepted, summed over fragments (1009 above it). */
  maxMessageSize: number;
  /** How long to wait for the peer's close frame after ours before dropping TCP. */
  closeTimeoutMs: number;
  /** Bytes of outgoing data queued before send() waits (and so before reading pauses). */
  maxBackpressure: number;
}

/** What the opening handshake said, for applications that want to show or log it. */
export interface HandshakeInfo {
  request: RequestHead;
  /** The client's Sec-WebSocket-Key and the Sec-WebSocket-Accept computed from it. */
  key: string;
  accept: string;
  /** The peer's address, "host:port". */
  remote: string;
}

/** How a connection ended. */
export interface CloseInfo {
  /** The close code sent or received first; 1006 when TCP ended without a close frame. */
  code: number;
  reason: string;
  /** True when both close frames were exchanged. */
  clean: boolean;
}

// Sends made while a message is being handled wait for the next read to go out together, unless
// this many bytes pile up first.
const FLUSH_BYTES = 64 * 1024;
const DONE: IteratorResult<Message> = { value: undefined, done: true };
const RESOLVED = Promise.resolve();
const ignore = () => {};

/**
 * One WebSocket connection. Iterate it for messages (`for await (const m of conn)`); the
 * iteration ends when the connection is CLOSED. Pings, pongs, the close handshake and protocol
 * errors are handled inside, in the order the peer's frames arrived.
 */
export class WebSocketConnection implements AsyncIterableIterator<Message> {
  readonly #session: Session;
  readonly #reader: ReadableStreamDefaultReader<DecodedChunk>;
  readonly #sink: WritableStream<Uint8Array>;
  readonly #encoder: FrameEncoder;
  readonly #writer: WritableStreamDefaultWriter<OutFrame[]>;
  readonly #transport: Transport;
  readonly #options: ConnectionOptions;
  #opened = false;
  #pipe: Promise<void> = RESOLVED;
  #writerClosed = false;
  #delivering = false; // the application holds a message from the last read
  #pumping: Promise<boolean> | null = null;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #finishing: Promise<void> | null = null;
  readonly #closed: PromiseWithResolvers<CloseInfo> = Promise.withResolvers();
  /** The handshake that opened this connection (absent in tests that build one by hand). */
  readonly handshake: HandshakeInfo | null;
  /** Observer of every decoded batch of frames, before they are applied (for /inspect). */
  onFrames: ((frames: readonly Frame[]) => void) | null = null;
  /** Messages and payload bytes delivered to the application and sent by it. */
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  // Keepalive bookkeeping, driven by the server's periodic sweep (see keepalive()).
  #reads = 0;
  #seenReads = 0;
  #lastActive = 0;
  #pingSentAt = 0;
  #goingAway: { code: number; reason: string } | null = null;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    input: ReadableStream<Uint8Array>,
    output: WritableStream<Uint8Array>,
    transport: Transport,
    options: ConnectionOptions,
    handshake: HandshakeInfo | null = null,
  ) {
    this.handshake = handshake;
    this.#options = options;
    this.#session = new Session({ maxMessageSize: options.maxMessageSize });
    this.#reader = input.pipeThrough(new FrameDecoder({ maxFrameSize: options.maxMessageSize }))
      .getReader();
    this.#sink = output;
    this.#encoder = new FrameEncoder(options.maxBackpressure);
    this.#writer = this.#encoder.writable.getWriter();
    this.#transport = transport;
  }

  /** CONNECTING until open() has written the 101 response, then as the session says. */
  get state(): State {
    return this.#opened ? this.#session.state : "CONNECTING";
  }

  /** Resolves once the connection is CLOSED and its socket released. */
  get closed(): Promise<CloseInfo> {
    return this.#closed.promise;
  }

  /** Writes the handshake response and moves to OPEN. */
  async open(response: Uint8Array): Promise<void> {
    const w = this.#sink.getWriter();
    await w.write(response);
    w.releaseLock();
    this.#pipe = this.#encoder.readable.pipeTo(this.#sink).catch(ignore);
    this.#opened = true;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return this;
  }

  /** The next message, or done once the connection is CLOSED. */
  async next(): Promise<IteratorResult<Message>> {
    const s = this.#session;
    this.#delivering = false;
    for (;;) {
      const m = s.next();
      if (m !== null) {
        this.#delivering = true;
        this.messagesIn++;
        this.bytesIn += m.data.length;
        return { value: m, done: false };
      }
      // Everything received so far has been handled: a pending shutdown closes now.
      if (this.#goingAway !== null && s.state === "OPEN") {
        s.close(this.#goingAway.code, this.#goingAway.reason);
      }
      this.#flush();
      if (s.state === "CLOSED" || !(await this.#pump())) {
        await this.#finish();
        return DONE;
      }
    }
  }

  /** Ends iteration early: closes normally (1000) and waits for the connection to close. */
  async return(): Promise<IteratorResult<Message>> {
    await this.close(CloseCode.Normal);
    return DONE;
  }

  /**
   * Sends a message (a string is sent as text, bytes as binary). Resolves at once unless the
   * outgoing queue is over its limit, then when it has drained: await it to respect
   * backpressure. Messages sent after the closing handshake began are dropped.
   */
  send(message: Message | string | Uint8Array): Promise<void> {
    const m = message instanceof Message
      ? message
      : typeof message === "string"
      ? Message.text(message)
      : Message.binary(message);
    const s = this.#session;
    if (!this.#opened || !s.send(m)) return RESOLVED;
    this.messagesOut++;
    this.bytesOut += m.data.length;
    // Batch only while the application handles what the last read brought (the next call to
    // next() writes the batch); otherwise, a send from a timer say, write now.
    if (!this.#delivering || s.outboxBytes >= FLUSH_BYTES) this.#flush();
    const room = this.#writer.desiredSize;
    if (room !== null && room <= 0) return this.#writer.ready.catch(ignore);
    return RESOLVED;
  }

  /** Sends a ping (for keepalive); its pong is ignored. */
  ping(payload: Uint8Array = new Uint8Array(0)): void {
    if (this.#opened && this.#session.ping(payload)) this.#flush();
  }

  /** True while the outgoing queue is full, so that the connection is not being read. */
  get backpressured(): boolean {
    const room = this.#writer.desiredSize;
    return room !== null && room <= 0;
  }

  /**
   * Closes with `code` once the messages already received have been handled: at the next point
   * where the connection would wait for input, or after `graceMs` if it is waiting already.
   */
  shutdown(code: number, reason: string, graceMs: number): Promise<CloseInfo> {
    if (this.#goingAway === null && this.state === "OPEN") {
      this.#goingAway = { code, reason };
      this.#graceTimer = setTimeout(() => {
        if (this.#session.state === "OPEN") this.close(code, reason);
      }, graceMs);
    }
    return this.#closed.promise;
  }

  /**
   * Keepalive, called periodically with the current time: pings a connection that has
   * received nothing for `intervalMs`, and drops one that then stays silent for `timeoutMs`
   * (a close frame 1001 is sent, but TCP is closed without waiting: the peer is gone).
   */
  keepalive(now: number, intervalMs: number, timeoutMs: number): void {
    if (this.#reads !== this.#seenReads || this.#lastActive === 0) {
      this.#seenReads = this.#reads;
      this.#lastActive = now;
      this.#pingSentAt = 0;
      return;
    }
    if (this.#session.state !== "OPEN") return;
    if (this.#pingSentAt === 0) {
      if (now - this.#lastActive >= intervalMs) {
        this.#pingSentAt = now;
        this.ping();
      }
    } else if (now - this.#pingSentAt >= timeoutMs) {
      this.#session.close(CloseCode.GoingAway, "ping timeout");
      this.#flush();
      this.#session.abort();
      this.#shut();
    }
  }

  /** Starts the closing handshake and resolves when the connection is CLOSED. */
  close(code: number = CloseCode.Normal, reason = ""): Promise<CloseInfo> {
    if (!this.#opened) {
      this.#session.abort();
      return this.#finish().then(() => this.#closed.promise);
    }
    this.#session.close(code, reason);
    this.#flush();
    this.#drain();
    return this.#closed.promise;
  }

  // Reads one chunk and feeds it to the session; false at end of input. Shared, so that an
  // iterating application and a background close never read at the same time.
  #pump(): Promise<boolean> {
    return this.#pumping ??= this.#readOnce().finally(() => this.#pumping = null);
  }

  async #readOnce(): Promise<boolean> {
    if (this.#session.state === "CLOSING") this.#armCloseTimer();
    let r: ReadableStreamReadResult<DecodedChunk>;
    try {
      r = await this.#reader.read();
    } catch {
      r = { done: true, value: undefined };
    }
    if (r.done) {
      this.#session.abort();
      return false;
    }
    this.#reads++;
    const chunk = r.value;
    if (chunk instanceof ProtocolError) {
      this.#session.fail(chunk, true);
    } else {
      if (this.onFrames !== null) this.onFrames(chunk);
      this.#session.receive(chunk);
    }
    return true;
  }

  // Keeps reading after the application stopped, until the peer's close arrives (or TCP ends).
  async #drain(): Promise<void> {
    const s = this.#session;
    for (;;) {
      while (s.next() !== null); // messages that crossed our close frame are dropped
      this.#flush();
      if (s.state === "CLOSED" || !(await this.#pump())) break;
    }
    await this.#finish();
  }

  // Hands the session's pending frames to the encoder. After a close frame nothing more can
  // follow, so the writer is closed behind it: the sink then flushes and, when the peer's byte
  // stream is broken, half-closes so that the peer sees our close frame and then EOF.
  #flush(): void {
    const frames = this.#session.takeOutbox();
    if (frames !== null && !this.#writerClosed) {
      this.#writer.write(frames).catch(ignore);
    }
    if (this.#session.state !== "OPEN" && !this.#writerClosed) {
      this.#writerClosed = true;
      this.#writer.close().then(() => this.#afterLastWrite(), ignore);
    }
  }

  async #afterLastWrite(): Promise<void> {
    await this.#pipe;
    if (this.#session.brokenInput && this.#session.state !== "CLOSED") {
      try {
        await this.#transport.closeWrite();
      } catch { /* already closed */ }
    }
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined) return;
    this.#closeTimer = setTimeout(() => {
      this.#session.abort();
      this.#shut();
    }, this.#options.closeTimeoutMs);
  }

  #shut(): void {
    try {
      this.#transport.close();
    } catch { /* already closed */ }
  }

  #finish(): Promise<void> {
    return this.#finishing ??= (async () => {
      this.#flush();
      // Let queued frames (our close reply above all) reach the socket, but not for longer
      // than the close timeout: a peer that does not read must not hold us.
      this.#armCloseTimer();
      await this.#pipe;
      clearTimeout(this.#closeTimer);
      clearTimeout(this.#graceTimer);
      this.#shut();
      await this.#reader.cancel().catch(ignore);
      const s = this.#session;
      this.#closed.resolve({ code: s.closeCode, reason: s.closeReason, clean: s.cleanClose });
    })();
  }
}
