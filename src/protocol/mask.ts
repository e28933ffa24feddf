// XOR masking (RFC 6455 §5.3): byte i of the payload is XORed with key byte (i mod 4).

// Below this many bytes the byte loop beats setting up a word view.
const WORD_THRESHOLD = 32;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Whole words of 64 bits (BigUint64Array) or of 32 (Int32Array). V8 compiles a 64-bit BigInt
// XOR into the loop: twice the bytes per step. JavaScriptCore (Bun) allocates a BigInt per
// element instead: about fifty times slower. The runtime's folder says which engine it is; 32 bits
// are right on both.
let wide = false;

/** Makes applyMask XOR 64 bits at a time: for engines that compile BigInt64 XOR (V8). */
export function maskWith64BitWords(on = true): void {
  wide = on;
}

/**
 * Unmasks (or masks: XOR is its own inverse) `data` in place. `key` holds the four key bytes
 * big-endian; `offset` is the position of data[0] within the frame's payload.
 */
export function applyMask(data: Uint8Array, key: number, offset = 0): void {
  const n = data.length;
  if (n === 0 || key === 0) return;
  if (n >= WORD_THRESHOLD && (data.buffer as ArrayBuffer).resizable) {
    return maskViaScratch(data, key, offset);
  }
  // Rotate the key so that its first byte applies to data[0].
  let k = rotate(key, offset);
  let i = 0;
  if (n >= WORD_THRESHOLD) {
    // Bytes up to the first word-aligned address, then whole words, then the tail.
    const size = wide ? 8 : 4;
    const misalign = (size - (data.byteOffset & (size - 1))) & (size - 1);
    for (; i < misalign; i++) data[i] ^= (k >>> (24 - ((i & 3) << 3))) & 0xff;
    k = rotate(k, misalign);
    const w = LITTLE_ENDIAN ? byteSwap(k) : k;
    if (wide) {
      const words = (n - i) >>> 3;
      const view = new BigUint64Array(data.buffer, data.byteOffset + i, words);
      const w32 = BigInt(w);
      const w64 = (w32 << 32n) | w32;
      for (let j = 0; j < words; j++) view[j] ^= w64;
      i += words << 3;
    } else {
      // (Int32Array, not Uint32Array: words above 2^31 would not be small integers.)
      const words = (n - i) >>> 2;
      const view = new Int32Array(data.buffer, data.byteOffset + i, words);
      const w32 = w | 0;
      for (let j = 0; j < words; j++) view[j] ^= w32;
      i += words << 2;
    }
  }
  maskBytes(data, i, n, k);
}

// XORs data[i..n) with the key bytes of `k` (its first byte on data[i]). Four bytes per step
// with the key bytes in locals: about half the time of a shift per byte on V8 and
// JavaScriptCore alike (a small message is all tail: 20 bytes in 10 ns instead of 21 on Deno,
// 7 instead of 16 on Bun).
function maskBytes(data: Uint8Array, i: number, n: number, k: number): void {
  const k0 = k >>> 24, k1 = (k >>> 16) & 0xff, k2 = (k >>> 8) & 0xff, k3 = k & 0xff;
  for (; i + 4 <= n; i += 4) {
    data[i] ^= k0;
    data[i + 1] ^= k1;
    data[i + 2] ^= k2;
    data[i + 3] ^= k3;
  }
  if (i < n) data[i++] ^= k0;
  if (i < n) data[i++] ^= k1;
  if (i < n) data[i] ^= k2;
}

function rotate(key: number, by: number): number {
  const s = (by & 3) << 3;
  return s === 0 ? key : ((key << s) | (key >>> (32 - s))) >>> 0;
}

function byteSwap(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

// Views of a resizable ArrayBuffer (a reassembly buffer read into in place) are several times
// slower to loop over in V8 than views of a fixed one, and would make the loop above
// polymorphic: such data is copied in blocks to a fixed scratch buffer (a memcpy), unmasked
// there, and copied back.
const SCRATCH = new Uint8Array(64 * 1024);

function maskViaScratch(data: Uint8Array, key: number, offset: number): void {
  for (let at = 0; at < data.length; at += SCRATCH.length) {
    const block = data.subarray(at, at + SCRATCH.length);
    const scratch = SCRATCH.subarray(0, block.length);
    scratch.set(block);
    applyMask(scratch, key, offset + at);
    block.set(scratch);
  }
}
