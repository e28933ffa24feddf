// Request-head parsing at the default size limits: worst-case heads (a long inner whitespace
// run, 100 fields, one long value, a 4 KiB target) next to a plain head of the same 8 KiB, so
// that time per KiB can be compared. Linear parsing shows as the same order of time in every
// row. Run: `deno bench bench/request_head_bench.ts`.

import { DEFAULT_HEAD_LIMITS, RequestHeadParser } from "../src/http/request_head.ts";

const SIZE = DEFAULT_HEAD_LIMITS.maxHeadBytes; // every head is exactly this long
const START = "GET /chat HTTP/1.1\r\nHost: example.com:8080\r\n";
const END = "\r\n";

/** `start`, then one `name: value` field padded with `fill` to SIZE bytes in all. */
function padded(start: string, name: string, fill: (n: number) => string): string {
  const before = `${start}${name}: `;
  const n = SIZE - before.length - "\r\n".length - END.length;
  return before + fill(n) + "\r\n" + END;
}

// A browser's upgrade request, with its Cookie grown to fill the head.
const PLAIN = padded(
  START +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\r\n" +
    "Accept: */*\r\nAccept-Language: en-GB,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n" +
    "Sec-WebSocket-Version: 13\r\nOrigin: http://example.com:8080\r\n" +
    "Sec-WebSocket-Extensions: permessage-deflate\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nConnection: keep-alive, Upgrade\r\n" +
    "Pragma: no-cache\r\nCache-Control: no-cache\r\nUpgrade: websocket\r\n",
  "Cookie",
  (n) => Array.from({ length: n }, (_, i) => "session=abc123; theme=dark; "[i % 28]).join(""),
);

// One value that is a single inner run of spaces: quadratic for a trim by regex.
const SPACES = padded(START, "X-Spaces", (n) => "a" + " ".repeat(n - 2) + "b");

// 100 fields (the default maxHeaders, Host included), each as long as the head allows.
const MANY = (() => {
  const count = DEFAULT_HEAD_LIMITS.maxHeaders - 1;
  const per = Math.floor((SIZE - START.length - END.length) / count);
  let s = START;
  for (let i = 0; i < count; i++) {
    const name = `X-F${String(i).padStart(2, "0")}: `;
    const len = i === count - 1 ? SIZE - s.length - END.length : per;
    s += name + "v".repeat(len - name.length - 2) + "\r\n";
  }
  return s + END;
})();

// One long value.
const LONG_VALUE = padded(START, "X-Long", (n) => "x".repeat(n));

// The longest target allowed (4 KiB), the rest of the head one long value.
const LONG_TARGET = padded(
  `GET /${"t".repeat(DEFAULT_HEAD_LIMITS.maxTargetBytes - 1)} HTTP/1.1\r\nHost: example.com\r\n`,
  "X-Long",
  (n) => "y".repeat(n),
);

const HEADS: [string, string][] = [
  ["plain", PLAIN],
  ["inner whitespace run", SPACES],
  ["100 fields", MANY],
  ["one long value", LONG_VALUE],
  ["4 KiB target", LONG_TARGET],
];

const encoded = HEADS.map(([name, text]): [string, Uint8Array] => {
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  // A head that is not at the size limit or is refused would not measure what it says.
  if (bytes.length !== SIZE) throw new Error(`${name}: ${bytes.length} bytes, not ${SIZE}`);
  if (new RequestHeadParser().push(bytes) === null) throw new Error(`${name}: not parsed`);
  return [name, bytes];
});

let sink = 0; // results are used, so the work cannot be optimised away

for (const [name, bytes] of encoded) {
  Deno.bench({
    name: `8 KiB head, one chunk: ${name}`,
    group: "one chunk",
    baseline: name === "plain",
    fn() {
      sink ^= new RequestHeadParser().push(bytes)!.headers.size;
    },
  });
}

// The same heads a KiB at a time (a read boundary in every line of the long ones).
for (const [name, bytes] of encoded) {
  Deno.bench({
    name: `8 KiB head, 1 KiB pieces: ${name}`,
    group: "1 KiB pieces",
    baseline: name === "plain",
    fn() {
      const p = new RequestHeadParser();
      for (let at = 0; at < bytes.length; at += 1024) {
        const head = p.push(bytes.subarray(at, at + 1024));
        if (head !== null) sink ^= head.headers.size;
      }
    },
  });
}

addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink); // never true; keeps sink live
});
