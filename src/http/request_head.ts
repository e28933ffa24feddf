// An incremental, bounded HTTP/1.1 request-head parser (RFC 9112 §2-5). Pure: bytes in, a
// parsed head (or an HttpError naming the status to answer) out.

/** Bounds on a request head; each names the status that enforces it. */
export interface HeadLimits {
  /** Whole head, request line to the blank line (431). */
  maxHeadBytes: number;
  /** Header fields (431). */
  maxHeaders: number;
  /** The request-target (414). */
  maxTargetBytes: number;
}

/** Defaults in line with common servers (nginx and Node use 8 KiB heads). */
export const DEFAULT_HEAD_LIMITS: HeadLimits = {
  maxHeadBytes: 8 * 1024,
  maxHeaders: 100,
  maxTargetBytes: 4 * 1024,
};

/** A parsed request head. Header names are lower-cased; repeated fields keep every value. */
export interface RequestHead {
  method: string;
  target: string;
  /** "HTTP/1.1" or "HTTP/1.0". */
  version: string;
  headers: Map<string, string[]>;
}

/** A request that must be refused with `status`; `message` is the plain-text reason. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

const HT = 0x09, LF = 0x0a, CR = 0x0d, SP = 0x20, COLON = 0x3a;
// RFC 9110 §5.6.2 token characters.
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TCHAR_BYTES = (() => {
  const set = new Uint8Array(256);
  const chars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (let i = 0; i < chars.length; i++) set[chars.charCodeAt(i)] = 1;
  return set;
})();

/**
 * Parses a request head from bytes that may arrive in pieces of any size (one byte at a time
 * included) without rescanning: each line is handled once, when its LF arrives. It never holds
 * more than `maxHeadBytes`; past any limit `push` throws at once rather than reading on.
 */
export class RequestHeadParser {
  readonly #limits: HeadLimits;
  #buf: Uint8Array;
  #used = 0; // bytes of head held
  #lineStart = 0;
  #requestLine: [string, string, string] | null = null;
  #headers = new Map<string, string[]>();
  #count = 0;
  #rest: Uint8Array = new Uint8Array(0);

  constructor(limits: HeadLimits = DEFAULT_HEAD_LIMITS) {
    this.#limits = limits;
    this.#buf = new Uint8Array(Math.min(1024, limits.maxHeadBytes));
  }

  /** Bytes that followed the head in the last chunk (the start of the next protocol). */
  get rest(): Uint8Array {
    return this.#rest;
  }

  /** Feeds bytes; returns the head once its blank line arrives, else null. Throws HttpError. */
  push(chunk: Uint8Array): RequestHead | null {
    for (let i = 0; i < chunk.length; i++) {
      const lf = chunk.indexOf(LF, i);
      const end = lf === -1 ? chunk.length : lf + 1;
      this.#append(chunk.subarray(i, end));
      if (lf === -1) {
        this.#checkPartialLine();
        return null;
      }
      i = lf;
      const head = this.#line();
      if (head !== null) {
        this.#rest = chunk.subarray(lf + 1);
        return head;
      }
    }
    return null;
  }

  #append(bytes: Uint8Array): void {
    const need = this.#used + bytes.length;
    if (need > this.#limits.maxHeadBytes) {
      if (this.#requestLine === null) this.#checkTarget(need - this.#lineStart);
      throw new HttpError(431, "request head too large");
    }
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.min(this.#limits.maxHeadBytes, need * 2));
      grown.set(this.#buf.subarray(0, this.#used));
      this.#buf = grown;
    }
    this.#buf.set(bytes, this.#used);
    this.#used = need;
  }

  // A request line still without its LF is refused as soon as it is longer than any request
  // line with an acceptable target could be.
  #checkPartialLine(): void {
    if (this.#requestLine === null) this.#checkTarget(this.#used - this.#lineStart);
  }

  #checkTarget(lineLength: number): void {
    // method (at most ~20 bytes in practice) + SP + target + SP + "HTTP/1.1" + CRLF
    if (lineLength > this.#limits.maxTargetBytes + 32) {
      throw new HttpError(414, "request-target too long");
    }
  }

  // Handles the complete line ending at #used; returns the head when it was the blank line.
  #line(): RequestHead | null {
    let end = this.#used - 1; // the LF
    if (end > this.#lineStart && this.#buf[end - 1] === CR) end--;
    const start = this.#lineStart;
    this.#lineStart = this.#used;
    if (this.#requestLine === null) {
      if (end === start) return null; // RFC 9112 §2.2: ignore empty lines before the request
      const line = latin1(this.#buf, start, end, false);
      this.#requestLine = parseRequestLine(line, this.#limits.maxTargetBytes);
      return null;
    }
    if (end === start) {
      const [method, target, version] = this.#requestLine;
      return { method, target, version, headers: this.#headers };
    }
    if (++this.#count > this.#limits.maxHeaders) {
      throw new HttpError(431, "too many header fields");
    }
    const [name, value] = parseField(this.#buf, start, end);
    const values = this.#headers.get(name);
    if (values === undefined) this.#headers.set(name, [value]);
    else values.push(value);
    return null;
  }
}

function parseRequestLine(line: string, maxTarget: number): [string, string, string] {
  const parts = line.split(" ");
  if (parts.length !== 3) throw new HttpError(400, "malformed request line");
  const [method, target, version] = parts;
  if (!TCHAR.test(method)) throw new HttpError(400, "malformed method");
  if (target.length > maxTarget) throw new HttpError(414, "request-target too long");
  // deno-lint-ignore no-control-regex
  if (target === "" || /[\x00-\x20\x7f]/.test(target)) {
    throw new HttpError(400, "malformed request-target");
  }
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    if (/^HTTP\/\d\.\d$/.test(version)) throw new HttpError(505, "HTTP version not supported");
    throw new HttpError(400, "malformed HTTP version");
  }
  return [method, target, version];
}

// One pass over the bytes of a field line (without its line end); no regular expression, so
// linear however the line is made.
function parseField(buf: Uint8Array, start: number, end: number): [string, string] {
  if (buf[start] === SP || buf[start] === HT) {
    throw new HttpError(400, "obsolete line folding is not accepted");
  }
  const colon = buf.subarray(start, end).indexOf(COLON) + start;
  if (colon <= start) throw new HttpError(400, "malformed header field");
  for (let i = start; i < colon; i++) {
    if (TCHAR_BYTES[buf[i]] !== 1) throw new HttpError(400, "malformed header field name");
  }
  // Optional whitespace around the value (RFC 9112 §5.1), trimmed by index: linear however
  // long a run of it.
  let from = colon + 1, to = end;
  while (from < to && (buf[from] === SP || buf[from] === HT)) from++;
  while (to > from && (buf[to - 1] === SP || buf[to - 1] === HT)) to--;
  // Visible characters, spaces, tabs and obs-text, but no other controls.
  let high = 0;
  for (let i = from; i < to; i++) {
    const b = buf[i];
    if ((b < 0x20 && b !== HT) || b === 0x7f) {
      throw new HttpError(400, "control character in header value");
    }
    high |= b;
  }
  const name = latin1(buf, start, colon, true).toLowerCase();
  const value = latin1(buf, from, to, high < 0x80);
  return [name, value];
}

const utf8 = new TextDecoder();
const APPLY_CHUNK = 4096; // arguments per fromCharCode call, far below engine limits

// Bytes as a string, one character per byte. TextDecoder("latin1") is not that (it is
// windows-1252: 0x80 becomes "€"), but for ASCII UTF-8 is, and is ~40x faster on long values
// than String.fromCharCode.apply, which wins below ~64 bytes and is kept for obs-text.
function latin1(buf: Uint8Array, start: number, end: number, ascii: boolean): string {
  if (ascii && end - start > 64) return utf8.decode(buf.subarray(start, end));
  let s = "";
  for (let at = start; at < end; at += APPLY_CHUNK) {
    const piece = buf.subarray(at, Math.min(end, at + APPLY_CHUNK));
    s += String.fromCharCode.apply(null, piece as unknown as number[]);
  }
  return s;
}

/** The value of a single-valued header, or undefined when absent; repeated values are joined. */
export function header(head: RequestHead, name: string): string | undefined {
  return head.headers.get(name)?.join(", ");
}

/** The comma-separated tokens of a header (RFC 9110 §5.6.1), lower-cased unless told not to. */
export function headerTokens(head: RequestHead, name: string, lowerCase = true): string[] {
  const values = head.headers.get(name);
  if (values === undefined) return [];
  const tokens: string[] = [];
  for (const v of values) {
    for (const t of v.split(",")) {
      const token = lowerCase ? t.trim().toLowerCase() : t.trim();
      if (token !== "") tokens.push(token);
    }
  }
  return tokens;
}
