// A WebSocket connection as an async iterator of messages: the Session state machine between a
// FrameDecoder fed with the peer's bytes and a FrameEncoder producing ours. The only I/O it
// knows is a Transport: read a chunk, write bytes, shut the socket.

import { CloseCode, type Frame, type OutFrame } from "./frame.ts";
import { type DecodedChunk, FrameDecoder } from "./frame_decoder.ts";
import { outputPool } from "./buffer_pool.ts";
import { FrameEncoder, headerLength } from "./frame_encoder.ts";
import { Message, Session, type State } from "./session.ts";

/** The socket under a connection. */
export interface Transport {
  /**
   * The next chunk of input, the caller's to keep; null at end of input. With `into`, the bytes
   * are read into that buffer (the chunk is a view of its start).
   */
  read(into?: Uint8Array): Promise<Uint8Array | null>;
  /** Some chunk read so far is still in use: its memory must never be read into again. */
  hold(): void;
  /** No chunk read so far is in use any more (unless held): the next read may reuse them. */
  recycle(): void;
  /** Writes some of `bytes`; resolves with how many. Rejects when the socket is gone. */
  write(bytes: Uint8Array): Promise<number>;
  /** Sends FIN after the last byte written: the peer may still send. */
  closeWrite(): Promise<void>;
  /** Closes the socket (idempotent). */
  close(): void;
}

/** Limits and timeouts of one connection. */
export interface ConnectionOptions {
  /** Largest message accepted, summed over fragments (1009 above it). */
  maxMessageSize: number;
  /** How long to wait for the peer's close frame after ours before dropping TCP. */
  closeTimeoutMs: number;
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
// Queued chunks smaller than this are merged into one write when several are waiting.
const MERGE_LIMIT = 16 * 1024;
// Payload still to come, at or above which a frame's bytes are read in place.
const DIRECT_READ_MIN = 16 * 1024;
const DONE: IteratorResult<Message> = { value: undefined, done: true };
const RESOLVED = Promise.resolve();
const ignore = () => {};
const toDone = () => DONE;

/**
 * One WebSocket connection. Iterate it for messages (`for await (const m of conn)`); the
 * iteration ends when the connection is CLOSED. Pings, pongs, the close handshake and protocol
 * errors are handled inside, in the order the peer's frames arrived.
 */
export class WebSocketConnection implements AsyncIterableIterator<Message> {
  readonly #session: Session;
  readonly #transport: Transport;
  readonly #options: ConnectionOptions;
  // The decoder and encoder streams are made when the first bytes arrive or leave: a stream
  // pair holds ~4.5 KB of heap, too much to park on every idle connection.
  #decoderIn: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #decoderOut: ReadableStreamDefaultReader<DecodedChunk> | null = null;
  #encoder: FrameEncoder | null = null;
  #encoderIn: WritableStreamDefaultWriter<OutFrame[]> | null = null;
  #encoderOut: ReadableStreamDefaultReader<Uint8Array[]> | null = null;
  #opened = false;
  #delivering = false; // the application holds a message from the last read
  // Buffer reuse: the message last delivered, until the application hands it back with
  // send(m, { transfer: true }); batches flushed to the encoder; chunks written that were not
  // the output pool's (the encoder counts those it makes: uncopied payloads, views of input);
  // the data of a transferred message, given back to the session once everything queued up to
  // its echo has been written (then nothing refers to it), and whether that echo was flushed.
  #current: Message | null = null;
  #flushes = 0;
  #viewsWritten = 0;
  #recycleAfterWrite: Uint8Array | null = null;
  #recycleFlushed = false;
  #pumping: Promise<boolean> | null = null;
  #finishing: Promise<void> | null = null;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #closed: PromiseWithResolvers<CloseInfo> = Promise.withResolvers();

  // Outgoing bytes: counted when frames are flushed, queued once encoded, written in order.
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writing = false;
  #writeFailed = false;
  #closeFlushed = false; // our close frame (or reply) has been handed to the encoder
  #halfClosed = false;
  #drained: PromiseWithResolvers<void> | null = null;
  #idle: PromiseWithResolvers<void> | null = null;

  // Keepalive bookkeeping, driven by the server's periodic sweep (see keepalive()).
  #reads = 0;
  #seenReads = 0;
  #lastActive = 0;
  #pingSentAt = 0;
  #goingAway: { code: number; reason: string; graceMs: number } | null = null;

  /** The handshake that opened this connection (absent in tests that build one by hand). */
  readonly handshake: HandshakeInfo | null;
  /** Observer of every decoded batch of frames, before they are applied (for /inspect). */
  onFrames: ((frames: readonly Frame[]) => void) | null = null;
  /** Messages and payload bytes delivered to the application and sent by it. */
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    transport: Transport,
    options: ConnectionOptions,
    handshake: HandshakeInfo | null = null,
  ) {
    this.#transport = transport;
    this.#options = options;
    this.handshake = handshake;
    this.#session = new Session({ maxMessageSize: options.maxMessageSize });
  }

  /** CONNECTING until open() has written the 101 response, then as the session says. */
  get state(): State {
    return this.#opened ? this.#session.state : "CONNECTING";
  }

  /** Resolves once the connection is CLOSED and its socket released. */
  get closed(): Promise<CloseInfo> {
    return this.#closed.promise;
  }

  /** True while more than maxBackpressure bytes wait to be written (input is not read). */
  get backpressured(): boolean {
    return this.#queuedBytes > this.#options.maxBackpressure;
  }

  /** Writes the handshake response and moves to OPEN. */
  async open(response: Uint8Array): Promise<void> {
    // Not the pool's, so counted among the views written (see #reuseInput); but not a view of
    // input that the encoder counted: cancel that out.
    this.#viewsWritten--;
    this.#queuedBytes += response.length;
    this.#enqueue([response]);
    await this.#whenWritten();
    if (this.#writeFailed) throw new Error("connection lost during the handshake");
    this.#opened = true;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return this;
  }

  /** The next message, or done once the connection is CLOSED. */
  next(): Promise<IteratorResult<Message>> {
    this.#delivering = false;
    const r = this.#turn();
    return r instanceof Promise ? r : Promise.resolve(r);
  }

  // The next message if one is waiting, else a read and another turn. (Not an async function:
  // its suspended frame would be parked on every idle connection.)
  #turn(): IteratorResult<Message> | Promise<IteratorResult<Message>> {
    const s = this.#session;
    // (Here, not only in next(): calls of next() that overlap all come back through here.)
    this.#keepCurrent();
    const m = s.next();
    if (m !== null) {
      this.#delivering = true;
      this.#current = m;
      this.messagesIn++;
      this.bytesIn += m.data.length;
      return { value: m, done: false };
    }
    this.#flush();
    if (s.state === "CLOSED") return this.#finish().then(toDone);
    return this.#pump().then(this.#afterPump);
  }

  #afterPump = (more: boolean) => more ? this.#turn() : this.#finish().then(toDone);

  /** Ends iteration early: closes normally (1000) and waits for the connection to close. */
  async return(): Promise<IteratorResult<Message>> {
    await this.close(CloseCode.Normal);
    return DONE;
  }

  /**
   * Sends a message (a string is sent as text, bytes as binary). Resolves at once unless more
   * than maxBackpressure bytes are queued, then once they have drained: await it. Messages sent
   * after the closing handshake began are dropped. With `transfer`, the message just received
   * is handed back: its bytes may be reused for later input once sent, so nothing may still
   * hold it (the application, or a send of it on another connection).
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
    const s = this.#session;
    // A reassembled message handed back is ours again, with the room its buffer keeps before
    // the data: its echo's header may go there. (Not a message read in one piece: sent from
    // the read buffer, it would keep the next read from reusing that buffer.)
    const transfer = options?.transfer === true && m === this.#current;
    const headroom = transfer ? s.headroom(m.data) : 0;
    if (!this.#opened || !s.send(m, headroom)) return RESOLVED;
    this.messagesOut++;
    this.bytesOut += m.data.length;
    if (transfer) this.#current = null;
    if (headroom > 0) {
      // Its buffer goes back to the session once everything up to this echo is written.
      this.#recycleAfterWrite = m.data;
      this.#recycleFlushed = false;
    }
    // Batch only while the application handles what the last read brought (the next call to
    // next() writes the batch); otherwise, a send from a timer say, write now.
    if (!this.#delivering || s.outboxBytes >= FLUSH_BYTES) this.#flush();
    return this.#queuedBytes > this.#options.maxBackpressure ? this.#waitDrained() : RESOLVED;
  }

  /** Sends a ping (for keepalive); its pong is ignored. */
  ping(payload: Uint8Array = new Uint8Array(0)): void {
    if (this.#opened && this.#session.ping(payload)) this.#flush();
  }

  /** Starts the closing handshake and resolves when the connection is CLOSED. */
  close(code: number = CloseCode.Normal, reason = ""): Promise<CloseInfo> {
    if (!this.#opened) {
      this.#session.abort();
      this.#finish();
      return this.#closed.promise;
    }
    this.#session.close(code, reason);
    this.#flush();
    this.#drain();
    return this.#closed.promise;
  }

  /**
   * Closes with `code` once what the peer has already sent has been echoed: when no input has
   * arrived for `graceMs` (bytes still in the socket are read and handled first).
   */
  shutdown(code: number, reason: string, graceMs: number): Promise<CloseInfo> {
    if (this.#goingAway === null && this.state === "OPEN") {
      this.#goingAway = { code, reason, graceMs };
      this.#armGrace();
    }
    return this.#closed.promise;
  }

  #armGrace(): void {
    const g = this.#goingAway!;
    clearTimeout(this.#graceTimer);
    this.#graceTimer = setTimeout(() => {
      if (this.#session.state === "OPEN") this.close(g.code, g.reason);
    }, g.graceMs);
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
    this.#session.dropSpare(); // quiet since the last sweep: park no reassembly buffer
    if (this.#session.state !== "OPEN") return;
    if (this.#pingSentAt === 0) {
      if (now - this.#lastActive >= intervalMs) {
        this.#pingSentAt = now;
        this.ping();
      }
    } else if (now - this.#pingSentAt >= timeoutMs) {
      // The peer is gone or stuck: tell it why, but drop TCP as soon as that is written
      // (or after the close timeout) instead of waiting for a reply.
      this.#session.close(CloseCode.GoingAway, "ping timeout");
      this.#flush();
      this.#armCloseTimer();
      this.#whenWritten().then(() => {
        this.#session.abort();
        this.#transport.close();
      });
    }
  }

  // Reads one chunk and feeds it through the decoder to the session; false at end of input.
  // Shared, so that an iterating application and a background close never read at once.
  #pump(): Promise<boolean> {
    return this.#pumping ??= this.#readChunk();
  }

  // (One async function, not two: every suspended frame is parked on every idle connection.)
  async #readChunk(): Promise<boolean> {
    try {
      const s = this.#session;
      this.#reuseInput();
      if (s.state === "CLOSING") this.#armCloseTimer();
      // Backpressure: while too much waits to be written, do not read (so the peer's sending
      // stalls in TCP instead of growing our memory).
      if (this.#queuedBytes > this.#options.maxBackpressure) await this.#waitDrained();
      // In the middle of a large frame, read straight into the reassembly buffer.
      const target = s.directReadTarget(DIRECT_READ_MIN);
      const chunk = await this.#transport.read(target ?? undefined);
      if (chunk === null || this.#writeFailed) {
        s.abort();
        return false;
      }
      this.#reads++;
      if (this.#goingAway !== null) this.#armGrace(); // input still flowing: not quiet yet
      // The TransformStreams are driven directly: the read is requested before the write that
      // answers it, so the transform runs at once and a chunk costs one stream hop.
      if (this.#decoderIn === null) {
        const decoder = new FrameDecoder({ maxFrameSize: this.#options.maxMessageSize });
        this.#decoderIn = decoder.writable.getWriter();
        this.#decoderOut = decoder.readable.getReader();
        // The encoder too, so that it has started (and encodes at once) by the first reply.
        if (this.#encoder === null) this.#makeEncoder();
      }
      const decoded = this.#decoderOut!.read();
      this.#decoderIn.write(chunk).catch(ignore);
      const r = await decoded;
      if (r.done) return false;
      const { frames, error } = r.value;
      if (frames.length > 0) {
        if (this.onFrames !== null) this.onFrames(frames);
        s.receive(frames);
      }
      if (error !== null) s.fail(error, true);
      return true;
    } finally {
      this.#pumping = null;
    }
  }

  // A message the application did not hand back may still be in use: its memory is kept.
  #keepCurrent(): void {
    if (this.#current === null) return;
    this.#current = null;
    this.#transport.hold();
  }

  // Before a read: when every message read so far has been handed back, every small payload of
  // it copied by the encoder, and no view of input waits to be written, input memory is reused
  // (no fresh read buffer, so no allocation and less garbage per read).
  #reuseInput(): void {
    this.#keepCurrent();
    const e = this.#encoder;
    if (e === null || (e.batches === this.#flushes && e.views === this.#viewsWritten)) {
      this.#transport.recycle();
    }
  }

  // Keeps reading after the application stopped, until the peer's close arrives (or TCP ends).
  // Never rejects: it runs unawaited, and a rejection there would end the process.
  async #drain(): Promise<void> {
    const s = this.#session;
    try {
      for (;;) {
        while (s.next() !== null); // messages that crossed our close frame are dropped
        this.#flush();
        if (s.state === "CLOSED" || !(await this.#pump())) break;
      }
    } catch {
      s.abort();
    }
    await this.#finish();
  }

  // Hands the session's pending frames to the encoder; its output joins the write queue.
  #flush(): void {
    const s = this.#session;
    const frames = s.takeOutbox();
    if (frames === null || this.#writeFailed) return;
    if (s.state !== "OPEN") this.#closeFlushed = true;
    let size = 0;
    for (let i = 0; i < frames.length; i++) {
      const n = frames[i].payload.length;
      size += headerLength(n) + n;
    }
    this.#queuedBytes += size;
    this.#flushes++;
    if (this.#recycleAfterWrite !== null) this.#recycleFlushed = true; // its echo is in this batch
    if (this.#encoderIn === null) this.#makeEncoder();
    const encoded = this.#encoderOut!.read();
    this.#encoderIn!.write(frames).catch(ignore);
    encoded.then(this.#onEncoded, ignore);
  }

  #makeEncoder(): void {
    const encoder = this.#encoder = new FrameEncoder();
    this.#encoderIn = encoder.writable.getWriter();
    this.#encoderOut = encoder.readable.getReader();
  }

  #onEncoded = (r: ReadableStreamReadResult<Uint8Array[]>): void => {
    if (!r.done) this.#enqueue(r.value);
  };

  #enqueue(chunks: Uint8Array[]): void {
    if (this.#writeFailed) return;
    for (let i = 0; i < chunks.length; i++) this.#queue.push(chunks[i]);
    if (!this.#writing) this.#writeLoop();
  }

  // Writes the queue in order, merging small chunks that wait together into one write.
  async #writeLoop(): Promise<void> {
    this.#writing = true;
    const q = this.#queue;
    try {
      while (q.length > 0) {
        let chunk = q[0];
        let take = 1;
        if (q.length > 1 && chunk.length < MERGE_LIMIT) {
          let size = chunk.length;
          while (take < q.length && q[take].length < MERGE_LIMIT) size += q[take++].length;
          if (take > 1) {
            chunk = outputPool.acquire(size);
            for (let i = 0, at = 0; i < take; at += q[i].length, i++) chunk.set(q[i], at);
          }
        }
        const parts = q.splice(0, take);
        let done = await this.#transport.write(chunk);
        while (done < chunk.length) done += await this.#transport.write(chunk.subarray(done));
        this.#queuedBytes -= chunk.length;
        for (let i = 0; i < parts.length; i++) {
          if (!outputPool.release(parts[i])) this.#viewsWritten++;
        }
        if (take > 1) outputPool.release(chunk);
        if (this.#drained !== null && this.#queuedBytes <= this.#options.maxBackpressure) {
          this.#drained.resolve();
          this.#drained = null;
        }
      }
    } catch {
      // The peer is gone: nothing more can be written, and nothing more will be read.
      this.#writeFailed = true;
      q.length = 0;
      this.#queuedBytes = 0;
      this.#session.abort();
      this.#transport.close();
    }
    this.#writing = false;
    this.#drained?.resolve();
    this.#drained = null;
    if (this.#queuedBytes === 0) {
      this.#idle?.resolve();
      this.#idle = null;
      if (this.#recycleFlushed) {
        this.#session.recycle(this.#recycleAfterWrite!);
        this.#recycleAfterWrite = null;
        this.#recycleFlushed = false;
      }
      // After a framing error the peer's bytes are meaningless: follow our close frame with FIN
      // so that the peer sees the close and then the end of the stream.
      if (this.#closeFlushed && this.#session.brokenInput && !this.#halfClosed) {
        this.#halfClosed = true;
        this.#transport.closeWrite().catch(ignore);
      }
    }
  }

  #waitDrained(): Promise<void> {
    return (this.#drained ??= Promise.withResolvers()).promise;
  }

  // Resolves once every flushed byte has been written (or writing failed).
  async #whenWritten(): Promise<void> {
    while (this.#queuedBytes > 0 && !this.#writeFailed) {
      await (this.#idle ??= Promise.withResolvers()).promise;
    }
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined) return;
    this.#closeTimer = setTimeout(() => {
      this.#session.abort();
      this.#transport.close();
    }, this.#options.closeTimeoutMs);
  }

  #finish(): Promise<void> {
    return this.#finishing ??= (async () => {
      this.#flush();
      // Let queued frames (our close reply above all) reach the socket, but not for longer
      // than the close timeout: a peer that does not read must not hold us.
      this.#armCloseTimer();
      await this.#whenWritten();
      clearTimeout(this.#closeTimer);
      clearTimeout(this.#graceTimer);
      this.#transport.close();
      this.#decoderIn?.close().catch(ignore);
      this.#encoderIn?.close().catch(ignore);
      const s = this.#session;
      this.#closed.resolve({ code: s.closeCode, reason: s.closeReason, clean: s.cleanClose });
    })();
  }
}
