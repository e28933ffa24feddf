// applyMask (src/protocol/mask.ts) against a naive byte loop, at every alignment and offset.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { applyMask, maskWith64BitWords } from "../../src/protocol/mask.ts";

/** RFC 6455 §5.3 spelled out: byte i XOR key byte ((offset + i) mod 4). */
function naiveMask(data: Uint8Array, key: number, offset: number): Uint8Array {
  const out = data.slice();
  const k = [key >>> 24, (key >>> 16) & 0xff, (key >>> 8) & 0xff, key & 0xff];
  for (let i = 0; i < out.length; i++) out[i] ^= k[(offset + i) & 3];
  return out;
}

function patterned(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + 17 + (i >>> 9)) & 0xff;
  return b;
}

/** A view of `n` bytes at `byteOffset` inside a larger buffer (with guard bytes around it). */
function placed(src: Uint8Array, byteOffset: number): { whole: Uint8Array; view: Uint8Array } {
  const whole = new Uint8Array(src.length + byteOffset + 8).fill(0xee);
  whole.set(src, byteOffset);
  return { whole, view: whole.subarray(byteOffset, byteOffset + src.length) };
}

const KEYS = [0x12345678, 0xffffffff, 0x80000001, 0x000000ff, 0xa55a3cc3, 0];

// Both word loops: 32-bit (every engine) and 64-bit (V8, as src/runtime/deno/start.ts sets).
// Each test sets the one it checks (both give the same bytes, so later tests may use either).
for (const bits of [32, 64]) {
  Deno.test(`applyMask matches a naive byte loop for lengths 0..100, byteOffsets 0..7 and every offset (${bits}-bit words)`, () => {
    maskWith64BitWords(bits === 64);
    for (const key of KEYS) {
      for (let n = 0; n <= 100; n++) {
        const src = patterned(n);
        // (0..7: the word loop works from 8-byte-aligned addresses.)
        for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
          for (let offset = 0; offset < 4; offset++) {
            const want = naiveMask(src, key, offset);
            const { whole, view } = placed(src, byteOffset);
            applyMask(view, key, offset);
            const where = `key ${
              key.toString(16)
            } n ${n} byteOffset ${byteOffset} offset ${offset}`;
            assert.deepEqual(view, want, where);
            // Nothing outside the view is touched.
            for (let i = 0; i < byteOffset; i++) assert.equal(whole[i], 0xee, where);
            for (let i = byteOffset + n; i < whole.length; i++) assert.equal(whole[i], 0xee, where);
          }
        }
      }
    }
  });

  Deno.test(`applyMask matches a naive byte loop for 1 MiB (+0..7), byteOffsets 0..7, every offset (${bits}-bit words)`, () => {
    maskWith64BitWords(bits === 64);
    for (const extra of [0, 1, 2, 3, 4, 5, 6, 7]) {
      const src = patterned(1024 * 1024 + extra);
      for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
        for (let offset = 0; offset < 4; offset++) {
          const key = KEYS[(byteOffset + offset + extra) % 5];
          const want = naiveMask(src, key, offset);
          const { whole, view } = placed(src, byteOffset);
          applyMask(view, key, offset);
          const where = `n 1MiB+${extra} byteOffset ${byteOffset} offset ${offset}`;
          assert.ok(Buffer.compare(view, want) === 0, where);
          assert.equal(whole[byteOffset - 1] ?? 0xee, 0xee, where);
          assert.equal(whole[byteOffset + src.length], 0xee, where);
        }
      }
    }
  });

  Deno.test(`applyMask: offsets beyond 3 act modulo 4 (${bits}-bit words)`, () => {
    maskWith64BitWords(bits === 64);
    const src = patterned(77);
    for (const offset of [4, 5, 6, 7, 1001, 65537]) {
      const a = src.slice();
      applyMask(a, 0xdeadbeef, offset);
      assert.deepEqual(a, naiveMask(src, 0xdeadbeef, offset), `offset ${offset}`);
    }
  });

  Deno.test(`applyMask: applying twice restores the data (${bits}-bit words)`, () => {
    maskWith64BitWords(bits === 64);
    for (const n of [0, 1, 3, 4, 5, 31, 32, 33, 100, 4096, 65537]) {
      const src = patterned(n);
      for (let byteOffset = 0; byteOffset < 4; byteOffset++) {
        for (let offset = 0; offset < 4; offset++) {
          const { view } = placed(src, byteOffset);
          applyMask(view, 0x01020304, offset);
          if (n > 0) assert.notDeepEqual(view, src);
          applyMask(view, 0x01020304, offset);
          assert.deepEqual(view, src, `n ${n} byteOffset ${byteOffset} offset ${offset}`);
        }
      }
    }
  });

  Deno.test(`applyMask: masking in pieces at their offsets equals masking the whole (${bits}-bit words)`, () => {
    maskWith64BitWords(bits === 64);
    const src = patterned(1000);
    const whole = src.slice();
    applyMask(whole, 0x9abcdef0, 0);
    for (const cuts of [[1], [3, 40], [33, 34, 35, 100, 999], [500]]) {
      const pieces = src.slice();
      let start = 0;
      for (const end of [...cuts, 1000]) {
        applyMask(pieces.subarray(start, end), 0x9abcdef0, start);
        start = end;
      }
      assert.deepEqual(pieces, whole, `cuts ${cuts}`);
    }
  });

  Deno.test(`applyMask: data in a resizable ArrayBuffer is masked as in a fixed one (${bits}-bit words)`, () => {
    maskWith64BitWords(bits === 64);
    for (const n of [0, 5, 31, 32, 1000, 64 * 1024 + 3, 200_000]) {
      for (const offset of [0, 1, 3]) {
        const fixed = new Uint8Array(n + 7).map((_, i) => (i * 31) & 0xff).subarray(7);
        const rab = new Uint8Array(new ArrayBuffer(n + 7, { maxByteLength: n + 100 }), 7, n);
        rab.set(fixed);
        applyMask(fixed, 0x1a2b3c4d, offset);
        applyMask(rab, 0x1a2b3c4d, offset);
        assert.deepEqual(rab, fixed, `n=${n} offset=${offset}`);
      }
    }
  });
}
