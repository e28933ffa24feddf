// A deliberately low-level WebSocket client for tests: it writes exactly the bytes it is told
// to (masked or not, any opcode, any split) and reads the server's frames one by one.

import { applyMask } from "../../src/protocol/mask.ts";

const encoder = new TextEncoder();

/** A frame as the server sent it. */
export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** Options for building a client frame. */
export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  rsv?: number;
  /** false sends the frame unmasked (a protocol error from a client). */
  mask?: boolean;
  maskKey?: Uint8Array;
  /** Force a length encoding: 7, 16 or 64 bits. */
  lengthBits?: 7 | 16 | 64;
}

/** Encodes a client frame exactly as specified. */
export function clientFrame(spec: FrameSpec): Uint8Array {
  const payload = typeof spec.payload === "string"
    ? encoder.encode(spec.payload)
    : (spec.payload ?? new Uint8Array(0));
  const mask = spec.mask ?? true;
  const len = payload.length;
  const bits = spec.lengthBits ?? (len < 126 ? 7 : len < 0x10000 ? 16 : 64);
  const lenBytes = bits === 7 ? 0 : bits === 16 ? 2 : 8;
  const out = new Uint8Array(2 + lenBytes + (mask ? 4 : 0) + len);
  out[0] = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode;
  out[1] = (mask ? 0x80 : 0) | (bits === 7 ? len : bits === 16 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (bits === 16) view.setUint16(2, len);
  if (bits === 64) view.setBigUint64(2, BigInt(len));
  let at = 2 + lenBytes;
  if (mask) {
    const key = spec.maskKey ?? crypto.getRandomValues(new Uint8Array(4));
    out.set(key, at);
    at += 4;
    out.set(payload, at);
    const k = ((key[0] << 24) | (key[1] << 16) | (key[2] << 8) | key[3]) >>> 0;
    applyMask(out.subarray(at), k, 0);
  } else {
    out.set(payload, at);
  }
  return out;
}

/** A close frame payload: the code big-endian and the reason. */
export function closePayload(code: number, reason: string | Uint8Array = ""): Uint8Array {
  const r = typeof reason === "string" ? encoder.encode(reason) : reason;
  const p = new Uint8Array(2 + r.length);
  p[0] = code >> 8;
  p[1] = code & 0xff;
  p.set(r, 2);
  return p;
}

/** Reads bytes from a connection with a small buffer of what was read but not yet used. */
export class ByteReader {
  #buf = new Uint8Array(0);
  #eof = false;
  constructor(readonly conn: Deno.Conn) {}

  /** True once the server closed its side and every byte was used. */
  get eof(): boolean {
    return this.#eof && this.#buf.length === 0;
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(64 * 1024);
    let n: number | null;
    try {
      n = await this.conn.read(chunk);
    } catch {
      n = null; // reset by peer counts as the end here
    }
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** Exactly n bytes, or null if the stream ends first. */
  async take(n: number): Promise<Uint8Array | null> {
    while (this.#buf.length < n) if (!(await this.#fill())) return null;
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Bytes up to and including the first CRLFCRLF, as text; null if the stream ends first. */
  async head(): Promise<string | null> {
    for (;;) {
      const s = new TextDecoder("latin1").decode(this.#buf);
      const end = s.indexOf("\r\n\r\n");
      if (end !== -1) {
        this.#buf = this.#buf.subarray(end + 4);
        return s.slice(0, end + 4);
      }
      if (!(await this.#fill())) return null;
    }
  }

  /** Everything until the server closes, as text. */
  async rest(): Promise<string> {
    while (await this.#fill());
    const s = new TextDecoder("latin1").decode(this.#buf);
    this.#buf = new Uint8Array(0);
    return s;
  }

  /** The next frame from the server, or null at end of stream. */
  async frame(): Promise<ServerFrame | null> {
    const h = await this.take(2);
    if (h === null) return null;
    let len = h[1] & 0x7f;
    if (len === 126) {
      const b = await this.take(2);
      if (b === null) return null;
      len = (b[0] << 8) | b[1];
    } else if (len === 127) {
      const b = await this.take(8);
      if (b === null) return null;
      len = Number(new DataView(b.buffer).getBigUint64(0));
    }
    const masked = (h[1] & 0x80) !== 0;
    if (masked && (await this.take(4)) === null) return null;
    const payload = await this.take(len);
    if (payload === null) return null;
    return { fin: (h[0] & 0x80) !== 0, rsv: (h[0] >> 4) & 7, opcode: h[0] & 0xf, masked, payload };
  }
}

/** A raw client connected and upgraded (or not) to a test server. */
export class RawClient {
  readonly reader: ByteReader;
  constructor(readonly conn: Deno.TcpConn) {
    this.reader = new ByteReader(conn);
  }

  /** Opens a TCP connection to the server, without any HTTP. */
  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Connects and completes a valid handshake on `path`; throws unless the answer is 101. */
  static async open(port: number, path = "/"): Promise<RawClient> {
    const c = await RawClient.connect(port);
    await c.send(upgradeRequest(path));
    const head = await c.reader.head();
    if (head === null || !head.startsWith("HTTP/1.1 101 ")) {
      c.close();
      throw new Error(`handshake failed: ${head}`);
    }
    return c;
  }

  /** Writes bytes (a string is sent as latin1/UTF-8 text). */
  async send(bytes: Uint8Array | string): Promise<void> {
    const b = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
    let done = 0;
    while (done < b.length) done += await this.conn.write(b.subarray(done));
  }

  /** Writes one client frame. */
  sendFrame(spec: FrameSpec): Promise<void> {
    return this.send(clientFrame(spec));
  }

  /** Reads the next server frame. */
  frame(): Promise<ServerFrame | null> {
    return this.reader.frame();
  }

  /**
   * Reads frames until the server's close frame; returns its code (1005 for an empty payload)
   * and whether the server then ended the TCP stream. Data frames on the way are returned too.
   */
  async closeCode(): Promise<
    { code: number; reason: string; eof: boolean; before: ServerFrame[] }
  > {
    const before: ServerFrame[] = [];
    for (;;) {
      const f = await this.frame();
      if (f === null) return { code: 1006, reason: "", eof: true, before };
      if (f.opcode !== 0x8) {
        before.push(f);
        continue;
      }
      const code = f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
      const reason = new TextDecoder().decode(f.payload.subarray(2));
      // Answer the close as a well-behaved client would, then wait for the server's FIN.
      await this.sendFrame({ opcode: 0x8, payload: f.payload.subarray(0, 2) }).catch(() => {});
      const after = await this.frame();
      return { code, reason, eof: after === null, before };
    }
  }

  /** Closes the socket (idempotent). */
  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** A valid upgrade request for `path`, with optional extra or replaced header lines. */
export function upgradeRequest(path = "/", extra: Record<string, string | null> = {}): string {
  const headers: Record<string, string | null> = {
    Host: "127.0.0.1",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
    ...extra,
  };
  let req = `GET ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) if (v !== null) req += `${k}: ${v}\r\n`;
  return req + "\r\n";
}
