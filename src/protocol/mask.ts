// XOR masking (RFC 6455 §5.3): byte i of the payload is XORed with key byte (i mod 4).

// Below this many bytes the byte loop beats setting up a word view.
const WORD_THRESHOLD = 32;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Unmasks (or masks: XOR is its own inverse) `data` in place. `key` holds the four key bytes
 * big-endian; `offset` is the position of data[0] within the frame's payload.
 */
export function applyMask(data: Uint8Array, key: number, offset = 0): void {
  const n = data.length;
  if (n === 0 || key === 0) return;
  // Rotate the key so that its first byte applies to data[0].
  let k = rotate(key, offset);
  let i = 0;
  if (n >= WORD_THRESHOLD) {
    // Bytes up to the first 4-byte-aligned address, then whole words, then the tail.
    const misalign = (4 - (data.byteOffset & 3)) & 3;
    for (; i < misalign; i++) data[i] ^= (k >>> (24 - (i << 3))) & 0xff;
    k = rotate(k, misalign);
    const words = (n - i) >>> 2;
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    const w = LITTLE_ENDIAN ? byteSwap(k) : k;
    for (let j = 0; j < words; j++) view[j] ^= w;
    i += words << 2;
  }
  for (let j = 0; i < n; i++, j++) data[i] ^= (k >>> (24 - ((j & 3) << 3))) & 0xff;
}

function rotate(key: number, by: number): number {
  const s = (by & 3) << 3;
  return s === 0 ? key : ((key << s) | (key >>> (32 - s))) >>> 0;
}

function byteSwap(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}
