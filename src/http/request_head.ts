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

const LF = 0x0a, CR = 0x0d;
// RFC 9110 §5.6.2 token characters.
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values may hold visible characters, spaces, tabs and obs-text, but no other controls.
// deno-lint-ignore no-control-regex
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

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
    const line = latin1(this.#buf, start, end);
    if (this.#requestLine === null) {
      if (line === "") return null; // RFC 9112 §2.2: ignore empty lines before the request
      this.#requestLine = parseRequestLine(line, this.#limits.maxTargetBytes);
      return null;
    }
    if (line === "") {
      const [method, target, version] = this.#requestLine;
      return { method, target, version, headers: this.#headers };
    }
    if (++this.#count > this.#limits.maxHeaders) {
      throw new HttpError(431, "too many header fields");
    }
    const [name, value] = parseField(line);
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

function parseField(line: string): [string, string] {
  if (line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) {
    throw new HttpError(400, "obsolete line folding is not accepted");
  }
  const colon = line.indexOf(":");
  if (colon <= 0) throw new HttpError(400, "malformed header field");
  const name = line.slice(0, colon);
  if (!TCHAR.test(name)) throw new HttpError(400, "malformed header field name");
  const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
  if (BAD_VALUE.test(value)) throw new HttpError(400, "control character in header value");
  return [name.toLowerCase(), value];
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
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
