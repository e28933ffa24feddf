// An incremental, bounded HTTP/1.1 request-head parser (RFC 9112 §2-5, RFC 9110 §7.2). Pure:
// bytes in, a parsed head (or an HttpError naming the status to answer) out.

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

/**
 * The longest method accepted; a longer one is refused with 501 as soon as its 21st byte
 * arrives (RFC 9112 §3: "a method longer than any that it implements SHOULD" get 501). 20, not
 * 4 (GET, HEAD), so that every registered method (the longest, UPDATEREDIRECTREF, has 17
 * bytes) still gets 405 with an Allow header rather than a blunter refusal.
 */
export const MAX_METHOD_BYTES = 20;

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

const HT = 0x09, LF = 0x0a, CR = 0x0d, SP = 0x20, HASH = 0x23, PERCENT = 0x25, COLON = 0x3a;

/** A table of the bytes in `chars`, for scanning without regular expressions. */
function byteSet(chars: string): Uint8Array {
  const set = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) set[chars.charCodeAt(i)] = 1;
  return set;
}

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
// RFC 9110 §5.6.2 token characters.
const TCHAR = byteSet("!#$%&'*+-.^_`|~" + ALNUM);
const HEX = byteSet("0123456789ABCDEFabcdef");
// RFC 3986 §3.2.2 reg-name: unreserved and sub-delims (and "%" of pct-encoded, checked apart).
const REG_NAME = byteSet("-._~!$&'()*+,;=" + ALNUM);
const IPV6_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const DEC_OCTET = /^(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;
const IPV_FUTURE = /^[vV][0-9A-Fa-f]+\.[-._~!$&'()*+,;=:0-9A-Za-z]+$/;
const ABSOLUTE_FORM = /^(?:https?|wss?):\/\//i;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

// Where the request-line scanner is. Each byte of the line is judged once, when it arrives,
// by a rule that depends only on the bytes before it: so the verdict on a head cannot depend
// on how its bytes were split across reads.
const LEAD = 0, // before the request line: empty lines are skipped (RFC 9112 §2.2)
  LEAD_CR = 1,
  METHOD = 2,
  TARGET = 3,
  VERSION = 4,
  VERSION_CR = 5,
  FIELDS = 6; // the request line is done

const VERSION_BYTES = 8; // "HTTP/d.d"

/**
 * Parses a request head from bytes that may arrive in pieces of any size (one byte at a time
 * included) without rescanning: request-line bytes are judged as they arrive, each field line
 * once, when its LF arrives. Every step is linear in the bytes it looks at. It never holds more
 * than `maxHeadBytes`; past any limit `push` throws at once rather than reading on, and the
 * refusal (status and message) is the same whatever the split of the bytes into chunks.
 */
export class RequestHeadParser {
  readonly #limits: HeadLimits;
  #buf: Uint8Array;
  #used = 0; // bytes of head held
  #lineStart = 0;
  #error: HttpError | null = null;
  #rest: Uint8Array = new Uint8Array(0);
  // The request line.
  #phase = LEAD;
  #scanned = 0; // request-line bytes judged so far
  #methodEnd = 0;
  #targetStart = 0;
  #hexDigitsDue = 0; // after "%" in the target
  #versionStart = 0;
  #method = "";
  #target = "";
  #version = "";
  // The fields.
  #headers = new Map<string, string[]>();
  #count = 0;

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
    if (this.#error !== null) throw this.#error; // a refused head stays refused
    try {
      for (let i = 0; i < chunk.length;) {
        const lf = chunk.indexOf(LF, i);
        const end = lf === -1 ? chunk.length : lf + 1;
        const head = this.#take(chunk.subarray(i, end), lf !== -1);
        if (head !== null) {
          this.#rest = chunk.subarray(end);
          return head;
        }
        i = end;
      }
      return null;
    } catch (err) {
      if (err instanceof HttpError) this.#error = err;
      throw err;
    }
  }

  // Takes bytes holding at most one LF, at their end when `endsLine`.
  #take(bytes: Uint8Array, endsLine: boolean): RequestHead | null {
    const fits = Math.min(bytes.length, this.#limits.maxHeadBytes - this.#used);
    this.#store(bytes.subarray(0, fits));
    // Bytes within the limit are judged before the one that crosses it, as byte by byte.
    const inRequestLine = this.#phase !== FIELDS;
    if (inRequestLine) this.#scanRequestLine();
    if (fits < bytes.length) throw new HttpError(431, "request head too large");
    if (!endsLine || inRequestLine) return null;
    return this.#fieldLine();
  }

  #store(bytes: Uint8Array): void {
    const need = this.#used + bytes.length;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.min(this.#limits.maxHeadBytes, need * 2));
      grown.set(this.#buf.subarray(0, this.#used));
      this.#buf = grown;
    }
    this.#buf.set(bytes, this.#used);
    this.#used = need;
  }

  // Judges the request-line bytes stored since the last call, in order. The order of the
  // checks is that of the bytes: the method is judged (and its length) before anything of the
  // target is seen, the target's length before the rest of its byte rules, and so on.
  #scanRequestLine(): void {
    const buf = this.#buf;
    for (let i = this.#scanned; i < this.#used; i++) {
      const b = buf[i];
      switch (this.#phase) {
        case LEAD:
          if (b === LF) this.#lineStart = i + 1;
          else if (b === CR) this.#phase = LEAD_CR;
          else {
            this.#lineStart = i;
            this.#phase = METHOD;
            this.#methodByte(b, i);
          }
          break;
        case LEAD_CR:
          if (b !== LF) throw new HttpError(400, "malformed request line");
          this.#lineStart = i + 1;
          this.#phase = LEAD;
          break;
        case METHOD:
          this.#methodByte(b, i);
          break;
        case TARGET:
          this.#targetByte(b, i);
          break;
        case VERSION:
          this.#versionByte(b, i);
          break;
        case VERSION_CR:
          if (b !== LF) throw new HttpError(400, "malformed request line");
          this.#endRequestLine(i);
          break;
      }
    }
    this.#scanned = this.#used;
  }

  #methodByte(b: number, i: number): void {
    if (TCHAR[b] === 1) {
      if (i - this.#lineStart >= MAX_METHOD_BYTES) throw new HttpError(501, "method too long");
    } else if (b === SP && i > this.#lineStart) {
      this.#methodEnd = i;
      this.#targetStart = i + 1;
      this.#phase = TARGET;
    } else if (b === SP || b === CR || b === LF) {
      throw new HttpError(400, "malformed request line");
    } else {
      throw new HttpError(400, "malformed method");
    }
  }

  #targetByte(b: number, i: number): void {
    const start = this.#targetStart;
    if (b === SP && i > start) {
      if (this.#hexDigitsDue > 0) throw badPercent();
      this.#target = latin1(this.#buf, start, i, true);
      checkTargetForm(this.#target);
      this.#versionStart = i + 1;
      this.#phase = VERSION;
    } else if (b === SP || b === CR || b === LF) {
      throw new HttpError(400, "malformed request line");
    } else if (i - start >= this.#limits.maxTargetBytes) {
      throw new HttpError(414, "request-target too long");
    } else if (this.#hexDigitsDue > 0) {
      if (HEX[b] !== 1) throw badPercent();
      this.#hexDigitsDue--;
    } else if (b < 0x21 || b > 0x7e) {
      throw new HttpError(400, "malformed request-target");
    } else if (b === HASH) {
      throw new HttpError(400, "fragment in request-target");
    } else if (b === PERCENT) {
      this.#hexDigitsDue = 2;
    }
  }

  #versionByte(b: number, i: number): void {
    const k = i - this.#versionStart;
    if (b === SP) throw new HttpError(400, "malformed request line");
    if (k === VERSION_BYTES && (b === CR || b === LF)) {
      if (b === CR) this.#phase = VERSION_CR;
      else this.#endRequestLine(i);
      return;
    }
    // "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3)
    const ok = k < 5
      ? b === "HTTP/".charCodeAt(k)
      : k === 6
      ? b === 0x2e
      : (k === 5 || k === 7) && b >= 0x30 && b <= 0x39;
    if (!ok) throw new HttpError(400, "malformed HTTP version");
  }

  #endRequestLine(lf: number): void {
    const version = latin1(this.#buf, this.#versionStart, this.#versionStart + VERSION_BYTES, true);
    if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
      throw new HttpError(505, "HTTP version not supported");
    }
    this.#method = latin1(this.#buf, this.#lineStart, this.#methodEnd, true);
    this.#version = version;
    this.#lineStart = lf + 1;
    this.#phase = FIELDS;
  }

  // Handles the complete field line ending at #used; returns the head when it was the blank
  // line.
  #fieldLine(): RequestHead | null {
    const buf = this.#buf;
    const start = this.#lineStart;
    let end = this.#used - 1; // the LF
    if (end > start && buf[end - 1] === CR) end--;
    this.#lineStart = this.#used;
    if (end === start) return this.#endHead();
    if (++this.#count > this.#limits.maxHeaders) {
      throw new HttpError(431, "too many header fields");
    }
    if (buf[start] === SP || buf[start] === HT) {
      throw new HttpError(400, "obsolete line folding is not accepted");
    }
    const colon = buf.subarray(start, end).indexOf(COLON) + start;
    if (colon <= start) throw new HttpError(400, "malformed header field");
    for (let i = start; i < colon; i++) {
      if (TCHAR[buf[i]] !== 1) throw new HttpError(400, "malformed header field name");
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
    const values = this.#headers.get(name);
    if (name === "host") this.#checkHost(value, values !== undefined);
    if (values === undefined) this.#headers.set(name, [value]);
    else values.push(value);
    return null;
  }

  // RFC 9112 §3.2: 400 for more than one Host, or an invalid one, as soon as it arrives.
  #checkHost(value: string, repeated: boolean): void {
    if (repeated) throw new HttpError(400, "more than one Host header");
    // RFC 9110 §7.2: an empty Host is for a target without authority, which no HTTP/1.1
    // request to this server has; HTTP/1.0 predates the rule.
    const emptyOk = this.#version === "HTTP/1.0";
    if (value === "" ? !emptyOk : !isAuthority(value)) {
      throw new HttpError(400, "invalid Host header");
    }
  }

  #endHead(): RequestHead {
    if (this.#version === "HTTP/1.1" && !this.#headers.has("host")) {
      throw new HttpError(400, "missing Host header");
    }
    return {
      method: this.#method,
      target: this.#target,
      version: this.#version,
      headers: this.#headers,
    };
  }
}

function badPercent(): HttpError {
  return new HttpError(400, "malformed percent-encoding in request-target");
}

// The forms of request-target served (RFC 9112 §3.2): origin-form, and absolute-form, which a
// server MUST accept (§3.2.2), for the schemes a WebSocket or its page can be reached by. The
// bytes were already checked one by one (visible ASCII, no "#", well-formed "%XX").
function checkTargetForm(target: string): void {
  if (target.charCodeAt(0) === 0x2f) return; // origin-form
  if (target === "*") throw new HttpError(400, "asterisk-form request-target is not served");
  if (ABSOLUTE_FORM.test(target)) {
    const from = target.indexOf("//") + 2;
    let to = from;
    while (to < target.length && target[to] !== "/" && target[to] !== "?") to++;
    // RFC 9110 §4.2.1, §4.2.4: an http(s) URI needs a host and must not carry userinfo.
    if (!isAuthority(target.slice(from, to))) {
      throw new HttpError(400, "malformed authority in request-target");
    }
    return;
  }
  if (isAuthority(target) && target.includes(":")) {
    throw new HttpError(400, "authority-form request-target is only for CONNECT");
  }
  if (SCHEME.test(target) && target.includes("://")) {
    throw new HttpError(400, "unsupported scheme in request-target");
  }
  throw new HttpError(400, "malformed request-target");
}

// uri-host [":" port] (RFC 3986 §3.2.2-3), with a non-empty host: a reg-name, an IPv4 address
// (which is also a reg-name), or an IP-literal in brackets. No userinfo, no whitespace.
function isAuthority(s: string): boolean {
  let hostEnd: number;
  if (s.charCodeAt(0) === 0x5b) { // "["
    hostEnd = s.indexOf("]") + 1;
    if (hostEnd === 0 || !isIpLiteral(s.slice(1, hostEnd - 1))) return false;
  } else {
    hostEnd = s.indexOf(":");
    if (hostEnd === -1) hostEnd = s.length;
    if (hostEnd === 0 || !isRegName(s, hostEnd)) return false;
  }
  if (hostEnd === s.length) return true;
  if (s.charCodeAt(hostEnd) !== COLON) return false;
  // port = *DIGIT: "host:" is allowed by the grammar (and means the default port).
  for (let i = hostEnd + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function isRegName(s: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === PERCENT) {
      if (i + 2 >= end || HEX[s.charCodeAt(i + 1)] !== 1 || HEX[s.charCodeAt(i + 2)] !== 1) {
        return false;
      }
      i += 2;
    } else if (REG_NAME[c] !== 1) {
      return false;
    }
  }
  return true;
}

function isIpLiteral(s: string): boolean {
  if (s.charCodeAt(0) === 0x76 || s.charCodeAt(0) === 0x56) return IPV_FUTURE.test(s);
  // IPv6address (RFC 3986 §3.2.2): eight 16-bit groups, the last two possibly an IPv4
  // address; one "::" may stand for one or more zero groups.
  const gap = s.indexOf("::");
  if (gap !== -1 && s.indexOf("::", gap + 1) !== -1) return false;
  const parts = gap === -1 ? [s] : [s.slice(0, gap), s.slice(gap + 2)];
  let groups = 0;
  for (let p = 0; p < parts.length; p++) {
    if (parts[p] === "") continue;
    const fields = parts[p].split(":");
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f];
      if (p === parts.length - 1 && f === fields.length - 1 && field.includes(".")) {
        if (!isIPv4(field)) return false;
        groups += 2;
      } else {
        if (!IPV6_GROUP.test(field)) return false;
        groups++;
      }
    }
  }
  return gap === -1 ? groups === 8 : groups <= 7;
}

function isIPv4(s: string): boolean {
  const octets = s.split(".");
  return octets.length === 4 && octets.every((o) => DEC_OCTET.test(o));
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
export function headerTokens(
  head: RequestHead,
  name: string,
  { lowerCase = true }: { lowerCase?: boolean } = {},
): string[] {
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
