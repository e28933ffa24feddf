// Utf8Validator / isValidUtf8 (src/protocol/utf8.ts): valid and invalid tables, incremental
// feeding at every split point, fail-fast at the first bad byte, small and native-sized pieces.

import assert from "node:assert/strict";
import { isValidUtf8, Utf8Validator } from "../../src/protocol/utf8.ts";

const b = (...xs: number[]) => new Uint8Array(xs);
const enc = (s: string) => new TextEncoder().encode(s);

const VALID: [string, Uint8Array][] = [
  ["empty", b()],
  ["ASCII", enc("Hello, world!")],
  ["NUL and DEL", b(0x00, 0x7f)],
  ["U+0080 (smallest 2-byte)", b(0xc2, 0x80)],
  ["U+07FF (largest 2-byte)", b(0xdf, 0xbf)],
  ["U+0800 (smallest 3-byte)", b(0xe0, 0xa0, 0x80)],
  ["U+D7FF (just below surrogates)", b(0xed, 0x9f, 0xbf)],
  ["U+E000 (just above surrogates)", b(0xee, 0x80, 0x80)],
  ["U+FEFF BOM", b(0xef, 0xbb, 0xbf)],
  ["U+FFFF (largest 3-byte)", b(0xef, 0xbf, 0xbf)],
  ["U+10000 (smallest 4-byte)", b(0xf0, 0x90, 0x80, 0x80)],
  ["U+10FFFF (largest code point)", b(0xf4, 0x8f, 0xbf, 0xbf)],
  ["mixed text", enc("héllo wörld € 𝄞 日本語 🎉")],
  ["κόσμε", enc("κόσμε")],
];

// Each invalid input with the index of its first bad byte (-1: truncated, no bad byte as such).
const INVALID: [string, Uint8Array, number][] = [
  ["lone continuation 0x80", b(0x80), 0],
  ["lone continuation 0xBF", b(0x61, 0xbf), 1],
  ["overlong '/' C0 AF", b(0xc0, 0xaf), 0],
  ["overlong C1 BF", b(0xc1, 0xbf), 0],
  ["overlong 3-byte E0 80 AF", b(0xe0, 0x80, 0xaf), 1],
  ["overlong 3-byte E0 9F BF", b(0xe0, 0x9f, 0xbf), 1],
  ["overlong 4-byte F0 80 80 AF", b(0xf0, 0x80, 0x80, 0xaf), 1],
  ["overlong 4-byte F0 8F BF BF", b(0xf0, 0x8f, 0xbf, 0xbf), 1],
  ["surrogate U+D800", b(0xed, 0xa0, 0x80), 1],
  ["surrogate U+DBFF", b(0xed, 0xaf, 0xbf), 1],
  ["surrogate U+DC00", b(0xed, 0xb0, 0x80), 1],
  ["surrogate U+DFFF", b(0xed, 0xbf, 0xbf), 1],
  ["surrogate pair (CESU-8)", b(0xed, 0xa0, 0xbd, 0xed, 0xb2, 0x8e), 1],
  ["U+110000 F4 90 80 80", b(0xf4, 0x90, 0x80, 0x80), 1],
  ["F5 lead byte", b(0xf5, 0x80, 0x80, 0x80), 0],
  ["F8 lead byte", b(0xf8, 0x88, 0x80, 0x80, 0x80), 0],
  ["FE", b(0x61, 0xfe), 1],
  ["FF", b(0xff), 0],
  ["lead then ASCII", b(0xc3, 0x28), 1],
  ["3-byte lead, second byte ASCII", b(0xe2, 0x28, 0xa1), 1],
  ["3-byte lead, third byte ASCII", b(0xe2, 0x82, 0x28), 2],
  ["4-byte lead, fourth byte ASCII", b(0xf0, 0x9f, 0x98, 0x41), 3],
  ["extra continuation after a char", b(0xc3, 0xa9, 0xa9), 2],
  ["valid text then a bad byte", enc("κόσμε\u{1F389}").slice().fill(0xff, 9, 10), 9],
  ["truncated 2-byte", b(0xc3), -1],
  ["truncated 3-byte (1 of 3)", b(0x61, 0xe2), -1],
  ["truncated 3-byte (2 of 3)", b(0xe2, 0x82), -1],
  ["truncated 4-byte (3 of 4)", b(0xf0, 0x9f, 0x98), -1],
  ["truncated U+10FFFF", b(0xf4, 0x8f, 0xbf), -1],
];

Deno.test("utf8: the valid table is valid", () => {
  for (const [name, bytes] of VALID) assert.equal(isValidUtf8(bytes), true, name);
});

Deno.test("utf8: the invalid table is invalid", () => {
  for (const [name, bytes] of INVALID) assert.equal(isValidUtf8(bytes), false, name);
});

Deno.test("utf8: agrees with TextDecoder({fatal}) on every 1- and 2-byte input", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const ok = (x: Uint8Array) => {
    try {
      fatal.decode(x);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 256; i++) {
    assert.equal(isValidUtf8(b(i)), ok(b(i)), `${i.toString(16)}`);
    for (let j = 0; j < 256; j++) {
      const x = b(i, j);
      if (isValidUtf8(x) !== ok(x)) assert.fail(`${i.toString(16)} ${j.toString(16)}`);
    }
  }
});

Deno.test("utf8: 3- and 4-byte sequences around the range edges agree with TextDecoder", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const ok = (x: Uint8Array) => {
    try {
      fatal.decode(x);
      return true;
    } catch {
      return false;
    }
  };
  // Every lead E0-F7 with every second byte around the continuation range, and third/fourth
  // bytes at the edges of the continuation range.
  const tails = [0x41, 0x7f, 0x80, 0x8f, 0x90, 0xbf, 0xc0];
  for (let lead = 0xe0; lead <= 0xf7; lead++) {
    for (let second = 0x70; second <= 0xc8; second++) {
      for (const third of tails) {
        const x3 = b(lead, second, third);
        if (isValidUtf8(x3) !== ok(x3)) assert.fail(`${[...x3].map((v) => v.toString(16))}`);
        for (const fourth of tails) {
          const x4 = b(lead, second, third, fourth);
          if (isValidUtf8(x4) !== ok(x4)) assert.fail(`${[...x4].map((v) => v.toString(16))}`);
        }
      }
    }
  }
});

// Every input of both tables, also embedded in long ASCII runs so that pieces of 1024 bytes or
// more take the native path.
function samples(): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  const pad = (n: number) => new Uint8Array(n).fill(0x61);
  for (
    const [name, bytes] of [
      ...VALID,
      ...INVALID.map(([n, x]) => [n, x] as [string, Uint8Array]),
    ]
  ) {
    out.push([name, bytes]);
    for (const [before, after] of [[1500, 0], [1500, 1500], [0, 1500], [1023, 1], [1021, 0]]) {
      const x = new Uint8Array(before + bytes.length + after);
      x.set(pad(before));
      x.set(bytes, before);
      x.set(pad(after), before + bytes.length);
      out.push([`${name} (${before}+${after} ASCII)`, x]);
    }
  }
  // Long multi-byte texts: character boundaries fall everywhere.
  const text = enc("日本語テキスト🎉éa".repeat(120));
  out.push(["long multi-byte text", text]);
  const broken = text.slice();
  broken[1700] = 0xc0;
  out.push(["long multi-byte text with C0 inside", broken]);
  out.push(["long multi-byte text cut mid-character", text.subarray(0, 2001)]);
  return out;
}

function verdictWhole(x: Uint8Array): boolean {
  const v = new Utf8Validator();
  return v.push(x) && v.complete;
}

Deno.test("utf8: feeding in two pieces at every split point gives the same verdict", () => {
  for (const [name, x] of samples()) {
    const whole = isValidUtf8(x);
    assert.equal(verdictWhole(x), whole, `${name}: validator vs isValidUtf8`);
    for (let split = 0; split <= x.length; split++) {
      const v = new Utf8Validator();
      const got = v.push(x.subarray(0, split)) && v.push(x.subarray(split)) && v.complete;
      if (got !== whole) assert.fail(`${name}: split ${split} says ${got}, whole says ${whole}`);
    }
  }
});

Deno.test("utf8: feeding in three pieces (around native-sized middles) gives the same verdict", () => {
  for (const [name, x] of samples()) {
    if (x.length < 1024) continue;
    const whole = isValidUtf8(x);
    for (let a = 0; a < 8 && a < x.length; a++) {
      for (let c = x.length - 8; c <= x.length; c++) {
        const v = new Utf8Validator();
        const got = v.push(x.subarray(0, a)) && v.push(x.subarray(a, c)) &&
          v.push(x.subarray(c)) && v.complete;
        if (got !== whole) assert.fail(`${name}: splits ${a},${c}`);
      }
    }
  }
});

Deno.test("utf8: feeding one byte at a time gives the same verdict", () => {
  for (const [name, x] of samples()) {
    const v = new Utf8Validator();
    let ok = true;
    for (let i = 0; i < x.length && ok; i++) ok = v.push(x.subarray(i, i + 1));
    assert.equal(ok && v.complete, isValidUtf8(x), name);
  }
});

Deno.test("utf8: push returns false exactly at the first bad byte", () => {
  for (const [name, x, bad] of INVALID) {
    const v = new Utf8Validator();
    for (let i = 0; i < x.length; i++) {
      const ok = v.push(x.subarray(i, i + 1));
      if (i === bad) {
        assert.equal(ok, false, `${name}: byte ${i} is the first bad one`);
        break;
      }
      assert.equal(ok, true, `${name}: byte ${i} is not bad yet`);
    }
    if (bad === -1) assert.equal(v.complete, false, `${name}: truncated, so incomplete`);
    // The prefix up to the bad byte is accepted, and the prefix plus it is not.
    if (bad >= 0) {
      const w = new Utf8Validator();
      assert.equal(w.push(x.subarray(0, bad)), true, `${name}: prefix`);
      assert.equal(w.push(x.subarray(bad, bad + 1)), false, `${name}: bad byte`);
    }
  }
});

Deno.test("utf8: a bad byte in a large piece fails that piece; what came before stays valid", () => {
  const v = new Utf8Validator();
  assert.equal(v.push(new Uint8Array(4096).fill(0x62)), true);
  const piece = new Uint8Array(4096).fill(0x63);
  piece[4000] = 0xff;
  assert.equal(v.push(piece), false);
});

Deno.test("utf8: complete is false mid-character and true at boundaries", () => {
  const v = new Utf8Validator();
  assert.equal(v.complete, true);
  assert.equal(v.push(b(0xf0, 0x9f)), true);
  assert.equal(v.complete, false);
  assert.equal(v.push(b(0x8e, 0x89)), true);
  assert.equal(v.complete, true);
  // A large piece ending mid-character carries its state into the next piece.
  const big = new Uint8Array(2000).fill(0x61);
  big[1998] = 0xe2;
  big[1999] = 0x82;
  assert.equal(v.push(big), true);
  assert.equal(v.complete, false);
  assert.equal(v.push(b(0x28)), false, "the character's last byte must be a continuation");
});

Deno.test("utf8: reset forgets a partial character", () => {
  const v = new Utf8Validator();
  assert.equal(v.push(b(0xe2, 0x82)), true);
  v.reset();
  assert.equal(v.complete, true);
  assert.equal(v.push(enc("abc")), true);
  assert.equal(v.complete, true);
});

Deno.test("utf8: isValidUtf8 is not affected by an earlier truncated or bad input", () => {
  assert.equal(isValidUtf8(b(0xe2, 0x82)), false);
  assert.equal(isValidUtf8(b(0x61)), true);
  assert.equal(isValidUtf8(b(0xff)), false);
  assert.equal(isValidUtf8(b(0xac)), false);
  assert.equal(isValidUtf8(enc("€")), true);
});
