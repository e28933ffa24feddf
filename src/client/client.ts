// A WebSocket client on the project's own parts: the opening handshake over any Socket, then
// FrameParser in client mode (server frames must be unmasked), the Session state machine
// (reassembly, UTF-8, pongs, the close handshake) and masked frames out. Runtime-neutral: the
// socket comes from src/runtime/deno/client_main.ts (or a test).

import { PeerGone, type Socket } from "../connection/socket.ts";
import { CloseCode, type FramePiece, Opcode, ProtocolError } from "../protocol/frame.ts";
import { FrameParser } from "../protocol/frame_decoder.ts";
import { encodeMaskedFrame } from "../protocol/frame_encoder.ts";
import { acceptKey } from "../protocol/handshake.ts";
import { Message, Session } from "../protocol/session.ts";

/** A frame as it went over the wire, for --show-frames. */
export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The masking key (four bytes big-endian); 0 when not masked. */
  maskKey: number;
  /** Declared payload length. */
  length: number;
  /** Header bytes on the wire, masking key included. */
  headerLength: number;
  /** The payload (or, for a frame read in pieces, its first piece), unmasked. */
  payload: Uint8Array;
}

/** What the client reports while it runs. */
export interface ClientEvents {
  /** A whole message from the server. */
  message?(m: Message): void;
  /** A pong from the server, with its payload. */
  pong?(payload: Uint8Array): void;
  /** Every frame sent ("out") and the start of every frame received ("in"). */
  frame?(direction: "in" | "out", frame: WireFrame): void;
}

/** How the connection ended. */
export interface ClientClose {
  /** The server's close code (1005 for a close without one), else ours, else 1006. */
  code: number;
  reason: string;
  /** True when both close frames were exchanged. */
  clean: boolean;
  /** Who sent the first close frame: "client", "server", or "none" (TCP ended first). */
  initiator: "client" | "server" | "none";
  /** A protocol error of the server's frames that made the client close, if any. */
  error: ProtocolError | null;
}

/** The server did not switch to WebSocket, or its 101 was wrong. */
export class HandshakeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HandshakeError";
  }
}

/** What to ask for in the opening handshake. */
export interface ConnectOptions {
  /** Subprotocols to offer, in order. */
  protocols?: readonly string[];
  /** Largest message accepted from the server (1009 above it). */
  maxMessage?: number;
  /** Time for the server's response (ms). */
  timeout?: number;
}

const MAX_RESPONSE_HEAD = 16 * 1024;
const READ_SIZE = 64 * 1024;
const CLOSE_WAIT_MS = 2000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The head of the server's response: status, lower-cased header names, and bytes after it. */
interface ResponseHead {
  status: number;
  statusLine: string;
  headers: Map<string, string>;
  rest: Uint8Array;
}

/** The upgrade request for `url` (ws: or wss:) with `key` and the offered protocols. */
export function upgradeRequest(url: URL, key: string, protocols: readonly string[]): string {
  const lines = [
    `GET ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${protocols.join(", ")}`);
  lines.push("User-Agent: wsecho-client", "", "");
  return lines.join("\r\n");
}

// Reads until the blank line that ends the response head.
async function readResponseHead(socket: Socket): Promise<ResponseHead> {
  let have = new Uint8Array(0);
  for (;;) {
    const buf = new Uint8Array(4096);
    const n = await socket.read(buf);
    if (n === null) throw new HandshakeError("the server closed the connection before answering");
    const next = new Uint8Array(have.length + n);
    next.set(have);
    next.set(buf.subarray(0, n), have.length);
    have = next;
    const end = findHeadEnd(have);
    if (end !== -1) {
      return parseResponseHead(decoder.decode(have.subarray(0, end)), have.slice(end + 4));
    }
    if (have.length > MAX_RESPONSE_HEAD) throw new HandshakeError("response head over 16 KiB");
  }
}

function findHeadEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function parseResponseHead(text: string, rest: Uint8Array): ResponseHead {
  const [statusLine, ...fields] = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
  if (m === null) throw new HandshakeError(`not an HTTP response: ${JSON.stringify(statusLine)}`);
  const headers = new Map<string, string>();
  for (const f of fields) {
    const colon = f.indexOf(":");
    if (colon <= 0) throw new HandshakeError(`malformed header line: ${JSON.stringify(f)}`);
    const name = f.slice(0, colon).trim().toLowerCase();
    const value = f.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { status: Number(m[1]), statusLine, headers, rest };
}

/** A connected WebSocket client. Make one with `WsClient.connect`, then call `run`. */
export class WsClient {
  /** The subprotocol the server selected ("" for none). */
  readonly protocol: string;
  readonly #socket: Socket;
  readonly #session: Session;
  readonly #parser: FrameParser;
  readonly #events: ClientEvents;
  #initial: Uint8Array | null;
  #writing: Promise<void> = Promise.resolve();
  #writeFailed = false;
  #writeError: unknown = null; // a write failure other than the server being gone
  #serverClose: { code: number; reason: string } | null = null;
  #initiator: "client" | "server" | "none" = "none";
  #error: ProtocolError | null = null;
  readonly #pongWaiters = new Map<string, () => void>();
  readonly #ended = Promise.withResolvers<void>();

  private constructor(
    socket: Socket,
    protocol: string,
    initial: Uint8Array,
    maxMessage: number,
    events: ClientEvents,
  ) {
    this.#socket = socket;
    this.protocol = protocol;
    this.#initial = initial.length > 0 ? initial : null;
    this.#session = new Session({ maxMessage });
    this.#parser = new FrameParser({ maxFrameSize: maxMessage, role: "client" });
    this.#events = events;
  }

  /**
   * Sends the upgrade request for `url` on `socket` and checks the 101 (RFC 6455 §4.1): status,
   * Upgrade, Connection, Sec-WebSocket-Accept, and a subprotocol among those offered. Throws
   * HandshakeError (the socket is then closed) otherwise.
   */
  static async connect(
    socket: Socket,
    url: URL,
    options: ConnectOptions = {},
    events: ClientEvents = {},
  ): Promise<WsClient> {
    const protocols = options.protocols ?? [];
    const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
    const timer = setTimeout(() => socket.close(), options.timeout ?? 10_000);
    try {
      await writeAll(socket, encoder.encode(upgradeRequest(url, key, protocols)));
      const head = await readResponseHead(socket);
      if (head.status !== 101) {
        throw new HandshakeError(`the server answered ${head.statusLine} instead of 101`);
      }
      if (head.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        throw new HandshakeError("the 101 has no 'Upgrade: websocket'");
      }
      const connection = (head.headers.get("connection") ?? "").toLowerCase().split(",");
      if (!connection.some((t) => t.trim() === "upgrade")) {
        throw new HandshakeError("the 101 has no 'Connection: upgrade'");
      }
      const accept = head.headers.get("sec-websocket-accept");
      if (accept !== await acceptKey(key)) {
        throw new HandshakeError(`wrong Sec-WebSocket-Accept: ${accept}`);
      }
      const protocol = head.headers.get("sec-websocket-protocol") ?? "";
      if (protocol !== "" && !protocols.includes(protocol)) {
        throw new HandshakeError(`the server selected a subprotocol not offered: ${protocol}`);
      }
      return new WsClient(socket, protocol, head.rest, options.maxMessage ?? 64 << 20, events);
    } catch (err) {
      socket.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a text message. False once the connection is closing. */
  sendText(text: string): boolean {
    return this.#send(this.#session.send(Message.text(text)));
  }

  /** Sends a binary message. */
  sendBinary(data: Uint8Array): boolean {
    return this.#send(this.#session.send(Message.binary(data)));
  }

  /** Sends a ping. */
  ping(payload: Uint8Array): boolean {
    return this.#send(this.#session.ping(payload));
  }

  /**
   * Sends a ping and resolves once its pong is back (or the connection ends, or `timeout` ms
   * pass): a server answers in order, so whatever it sends in reply to earlier messages has
   * arrived by then.
   */
  async roundTrip(timeout: number): Promise<void> {
    const payload = crypto.getRandomValues(new Uint8Array(8));
    const back = Promise.withResolvers<void>();
    const key = payload.toHex();
    this.#pongWaiters.set(key, back.resolve);
    this.#ended.promise.then(back.resolve);
    const timer = setTimeout(back.resolve, timeout);
    if (!this.ping(payload)) back.resolve();
    await back.promise;
    clearTimeout(timer);
    this.#pongWaiters.delete(key);
  }

  /** Starts the closing handshake. */
  close(code: number = CloseCode.Normal, reason = ""): void {
    if (this.#session.state !== "OPEN") return;
    if (this.#initiator === "none") this.#initiator = "client";
    this.#session.close(code, reason);
    this.#flush();
  }

  /** Reads until the connection is closed; resolves with how it ended. Call once. */
  async run(): Promise<ClientClose> {
    const s = this.#session;
    while (s.state !== "CLOSED" && !this.#writeFailed) {
      let chunk = this.#initial;
      this.#initial = null;
      if (chunk === null) {
        const buf = new Uint8Array(READ_SIZE);
        const n = await this.#socket.read(buf);
        if (n === null) break;
        chunk = buf.subarray(0, n);
      }
      this.#receive(chunk);
    }
    if (s.state !== "CLOSED") s.abort();
    this.#ended.resolve();
    await this.#writing;
    if (this.#writeError !== null) throw this.#writeError;
    // RFC 6455 §7.1.1: the server closes TCP first; wait a little for it, then close ours.
    await this.#awaitEnd();
    this.#socket.close();
    const clean = s.cleanClose;
    const close = this.#serverClose ??
      (this.#initiator === "client" || this.#error !== null
        ? { code: s.closeCode, reason: s.closeReason }
        : { code: CloseCode.Abnormal, reason: "" });
    return { ...close, clean, initiator: this.#initiator, error: this.#error };
  }

  #receive(chunk: Uint8Array): void {
    const s = this.#session;
    const frames: FramePiece[] = [];
    let error: ProtocolError | null = null;
    try {
      this.#parser.push(chunk, frames);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      error = err;
    }
    for (const f of frames) {
      if (f.first) this.#events.frame?.("in", { ...f, masked: false });
      if (f.opcode === Opcode.Pong) {
        const waiter = this.#pongWaiters.get(f.payload.toHex());
        if (waiter !== undefined) waiter();
        else this.#events.pong?.(f.payload.slice());
      }
      if (f.opcode === Opcode.Close && this.#serverClose === null) {
        const p = f.payload;
        this.#serverClose = p.length >= 2
          ? { code: (p[0] << 8) | p[1], reason: decoder.decode(p.subarray(2)) }
          : { code: CloseCode.NoStatus, reason: "" };
        if (this.#initiator === "none") this.#initiator = "server";
      }
    }
    s.receive(frames);
    if (error !== null) {
      this.#error = error;
      s.fail(error, { brokenInput: true });
    }
    for (let m = s.next(); m !== null; m = s.next()) this.#events.message?.(m);
    if (s.failure !== null && this.#error === null && this.#initiator === "none") {
      this.#error = new ProtocolError(s.failure.code, s.failure.reason);
    }
    if (this.#error !== null && this.#initiator === "none") this.#initiator = "client";
    this.#flush();
  }

  #send(queued: boolean): boolean {
    if (queued) this.#flush();
    return queued;
  }

  // Masks and writes whatever the session has queued (our messages, pongs, close frames).
  #flush(): void {
    const frames = this.#session.takeOutbox();
    if (frames === null) return;
    for (const f of frames) {
      const key = crypto.getRandomValues(new Uint32Array(1))[0];
      const bytes = encodeMaskedFrame(f.opcode, f.fin, f.payload, key);
      this.#events.frame?.("out", {
        fin: f.fin,
        rsv: 0,
        opcode: f.opcode,
        masked: true,
        maskKey: key,
        length: f.payload.length,
        headerLength: bytes.length - f.payload.length,
        payload: f.payload,
      });
      f.hold?.release();
      this.#writing = this.#writing.then(async () => {
        if (this.#writeFailed) return;
        try {
          await writeAll(this.#socket, bytes);
        } catch (err) {
          this.#writeFailed = true; // the read loop sees the end next
          this.#socket.close();
          if (!(err instanceof PeerGone)) this.#writeError = err; // rethrown by run()
        }
      });
    }
  }

  // Waits for the server to end TCP after the close handshake, at most CLOSE_WAIT_MS.
  async #awaitEnd(): Promise<void> {
    if (this.#writeFailed) return;
    const timer = setTimeout(() => this.#socket.close(), CLOSE_WAIT_MS);
    try {
      const buf = new Uint8Array(1024);
      while (await this.#socket.read(buf) !== null) { /* after the close: discarded */ }
    } finally {
      clearTimeout(timer);
    }
  }
}

async function writeAll(socket: Socket, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await socket.write(bytes.subarray(done));
}
