// RequestHeadParser (src/http/request_head.ts), property: the outcome of a head (the parsed
// head and the bytes after it, or the HttpError's status and message, or "still waiting") is
// the same whatever the split of its bytes into chunks. Heads, valid and not, come from a
// seeded generator, so a failure names a case that can be replayed.

import assert from "node:assert/strict";
import {
  DEFAULT_HEAD_LIMITS,
  type HeadLimits,
  HttpError,
  MAX_METHOD_BYTES,
  RequestHeadParser,
} from "../../src/http/request_head.ts";

const SEED = 0x6455;
const CASES = 600;

/** mulberry32: a small seeded generator of floats in [0, 1); enough for test inputs. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = mulberry32(SEED);
const int = (n: number) => Math.floor(random() * n); // 0 .. n-1
const chance = (p: number) => random() < p;
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const from = (alphabet: string, n: number) =>
  Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join("");

// Small limits keep heads short enough to cut at every position; the defaults are used too.
const LIMITS: HeadLimits[] = [
  { maxHeadBytes: 200, maxHeaders: 4, maxTargetBytes: 40 },
  { maxHeadBytes: 400, maxHeaders: 8, maxTargetBytes: 100 },
  { maxHeadBytes: 700, maxHeaders: 12, maxTargetBytes: 300 },
];

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PATH_CHARS = "abcXYZ019-._~!$&'()*+,;=:@/?";

function method(): string {
  switch (int(14)) {
    case 0:
      return from(TCHARS, 1 + int(MAX_METHOD_BYTES + 4)); // around the limit
    case 1:
      return "M".repeat(MAX_METHOD_BYTES + int(3)); // 20, 21, 22
    case 2:
      return from(TCHARS, 2) + pick(["@", "(", "\x00", "\xe9", "\t", ":"]) + from(TCHARS, 2);
    case 3:
      return chance(0.5) ? "" : "M".repeat(200 + int(300)); // empty, or far too long
    default:
      return pick(["GET", "HEAD", "POST", "OPTIONS", "CONNECT"]);
  }
}

function target(limits: HeadLimits): string {
  switch (int(16)) {
    case 0: // around the target limit
      return "/" + from(PATH_CHARS, limits.maxTargetBytes - 3 + int(5));
    case 1:
      return "/" + from(PATH_CHARS, int(8)) + pick(["%", "%4", "%4g", "%%41", "%zz"]) +
        from(PATH_CHARS, int(3));
    case 2:
      return "/" + from(PATH_CHARS, int(6)) +
        pick(["#", "#frag", "\x00", "\x01", "\x7f", "\x80", "\xff", "\x1b"]) + "x";
    case 3:
      return pick(["*", "example.com:443", "[::1]:80", "example.com", "a/b", "mailto:x@y"]);
    case 4:
      return pick(["http", "HTTPS", "ws", "wss", "ftp"]) + "://" +
        pick(["example.com", "h:80", "[::1]", "", "u@h", "h:8x"]) +
        pick(["", "/", "/p?q", "?q", "/#f"]);
    case 5:
      return "";
    default:
      return "/" +
        Array.from({ length: int(12) }, () => pick([...PATH_CHARS, "%20", "%7e"])).join("");
  }
}

function version(): string {
  return chance(0.85)
    ? pick(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"])
    : pick(["HTTP/2.0", "HTTP/0.9", "HTTP/1.11", "http/1.1", "HTTP/1", "HTTP/1.1 x", "", "FOO"]);
}

function requestLine(limits: HeadLimits): string {
  const sp = () => (chance(0.95) ? " " : pick(["  ", "\t", ""]));
  return method() + sp() + target(limits) + sp() + version();
}

function host(): string {
  return pick([
    "example.com",
    "127.0.0.1:8080",
    "[::1]:80",
    "[v1.x]",
    "",
    "u@h",
    "a b",
    "h:x",
    "[::1",
    "[1:2:3:4:5:6:7:8:9]",
    "a%2",
  ]);
}

function value(): string {
  switch (int(8)) {
    case 0:
      return " ".repeat(int(60)) + "a" + " \t".repeat(int(80)) + "b" + "\t ".repeat(int(40));
    case 1:
      return "v" + pick(["\x00", "\x01", "\x1f", "\x7f", "\r", "\x0b"]) + "w";
    case 2:
      return "caf\xe9 \x80\xff";
    case 3:
      return from("xyz ", 50 + int(300));
    default:
      return from("abc123 ,;=-", int(12));
  }
}

function field(): string {
  switch (int(24)) {
    case 0:
      return " X-Fold: a"; // obs-fold, or a first line starting with a space
    case 1:
      return "Bad Name: x";
    case 2:
      return "NoColon";
    case 3:
      return ": empty name";
    case 4:
      return "X-\xe9: v";
    case 5:
    case 6:
    case 7:
      return "Host: " + (chance(0.5) ? "example.com" : host());
    default:
      return from(TCHARS, 1 + int(10)) + ":" + value();
  }
}

function head(limits: HeadLimits): string {
  const eol = () => (chance(0.97) ? "\r\n" : pick(["\n", "\r", "\r\r\n"]));
  let s = chance(0.1) ? pick(["\r\n", "\n", "\r\n\n", "\rX"]) : "";
  s += requestLine(limits) + eol();
  if (chance(0.75)) s += "Host: " + (chance(0.8) ? "example.com" : host()) + eol();
  // A few fields of any kind, or (valid) fields up to around the limit.
  const many = chance(0.2);
  const fields = many ? limits.maxHeaders - 2 + int(4) : int(5);
  for (let i = 0; i < fields; i++) s += (many ? `X-${i}: v` : field()) + eol();
  if (chance(0.9)) s += eol(); // the blank line, or an unfinished head
  if (chance(0.1)) s += "X: " + "p".repeat(limits.maxHeadBytes); // oversized
  if (chance(0.4)) s += pick(["\x81\x85abcd", "GET / HTTP/1.1\r\n\r\n", "\r\n", "\xff"]);
  return s;
}

type Outcome =
  | { kind: "head"; method: string; target: string; version: string; headers: string; rest: string }
  | { kind: "refused"; status: number; message: string }
  | { kind: "waiting" };

const bytesOf = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const textOf = (b: Uint8Array) => Array.from(b, (x) => String.fromCharCode(x)).join("");

/** Feeds `bytes` cut at `cuts` (ascending offsets) to a fresh parser. */
function outcome(bytes: Uint8Array, cuts: number[], limits: HeadLimits): Outcome {
  const p = new RequestHeadParser(limits);
  const bounds = [0, ...cuts, bytes.length];
  for (let k = 0; k + 1 < bounds.length; k++) {
    let parsed;
    try {
      parsed = p.push(bytes.subarray(bounds[k], bounds[k + 1]));
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      return { kind: "refused", status: err.status, message: err.message };
    }
    if (parsed !== null) {
      return {
        kind: "head",
        method: parsed.method,
        target: parsed.target,
        version: parsed.version,
        headers: JSON.stringify([...parsed.headers]),
        rest: textOf(p.rest) + textOf(bytes.subarray(bounds[k + 1])),
      };
    }
  }
  return { kind: "waiting" };
}

Deno.test("request head property: same outcome at every cut and at random multi-cuts", () => {
  const seen = new Map<string, number>();
  for (let n = 0; n < CASES; n++) {
    // One case in 20 at the default limits (8 KiB heads): cut at every 7th position there.
    const big = n % 20 === 19;
    const limits = big ? DEFAULT_HEAD_LIMITS : pick(LIMITS);
    const text = head(limits);
    const bytes = bytesOf(text);
    const whole = outcome(bytes, [], limits);
    const label = whole.kind === "refused" ? `${whole.status} ${whole.message}` : whole.kind;
    seen.set(label, (seen.get(label) ?? 0) + 1);
    const where = (cuts: number[] | string) =>
      `case ${n} (seed ${SEED}), cuts ${cuts}: ${JSON.stringify(text.slice(0, 300))}`;
    for (let cut = 0; cut <= bytes.length; cut += big ? 7 : 1) {
      assert.deepEqual(outcome(bytes, [cut], limits), whole, where([cut]));
    }
    for (let r = 0; r < 6; r++) {
      const cuts = Array.from({ length: 2 + int(6) }, () => int(bytes.length + 1));
      cuts.sort((a, b) => a - b);
      assert.deepEqual(outcome(bytes, cuts, limits), whole, where(cuts));
    }
    if (!big) {
      const every = Array.from({ length: Math.max(0, bytes.length - 1) }, (_, i) => i + 1);
      assert.deepEqual(outcome(bytes, every, limits), whole, where("at every byte"));
    }
  }
  // The generator reaches every kind of outcome (else the property says little).
  const labels = [...seen.keys()];
  for (
    const want of [
      "head",
      "waiting",
      "400 missing Host header",
      "400 more than one Host header",
      "400 invalid Host header",
      "400 malformed request line",
      "400 malformed method",
      "400 malformed request-target",
      "400 fragment in request-target",
      "400 malformed percent-encoding in request-target",
      "400 control character in header value",
      "414 request-target too long",
      "431 request head too large",
      "431 too many header fields",
      "501 method too long",
      "505 HTTP version not supported",
    ]
  ) {
    assert.ok(labels.includes(want), `no case ended in "${want}": ${JSON.stringify([...seen])}`);
  }
});
