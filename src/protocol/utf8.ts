// Incremental UTF-8 validation (RFC 3629, Unicode Table 3-7), so that a text message split over
// frames and reads is checked as it arrives and rejected at its first invalid byte.

import { isUtf8 } from "node:buffer";

// Pieces at least this long have their bulk checked by the runtime's native validator (~20×
// faster than a JavaScript loop on ASCII); the byte loop handles the edges and small pieces,
// where a native call costs more than it saves.
const NATIVE_MIN = 1024;

/**
 * Validates a byte stream fed in pieces. `push` returns false as soon as the bytes seen so far
 * cannot be the start of valid UTF-8; `complete` says whether they end on a character boundary.
 */
export class Utf8Validator {
  // Continuation bytes still expected, and the allowed range of the next one (it narrows after
  // E0, ED, F0 and F4 to exclude overlong forms, surrogates and code points above U+10FFFF).
  #need = 0;
  #lo = 0x80;
  #hi = 0xbf;

  /** True when the input so far ends between characters. */
  get complete(): boolean {
    return this.#need === 0;
  }

  /** Forgets any partial character, to validate a new message. */
  reset(): void {
    this.#need = 0;
    this.#lo = 0x80;
    this.#hi = 0xbf;
  }

  /**
   * Feeds the next bytes; false as soon as they make the input invalid (for a large piece, the
   * piece is rejected as a whole, before anything after it is read).
   */
  push(bytes: Uint8Array): boolean {
    if (bytes.length < NATIVE_MIN) return this.#scan(bytes);
    // Finish a character left open by the previous piece, byte by byte.
    let start = 0;
    while (this.#need > 0 && start < bytes.length) {
      if (!this.#scan(bytes.subarray(start, start + 1))) return false;
      start++;
    }
    // The rest, up to the last character boundary, natively; an unfinished last character
    // goes through the byte loop so that its state carries over to the next piece.
    const end = lastBoundary(bytes);
    if (end > start && !isUtf8(bytes.subarray(start, end))) return this.#fail();
    return this.#scan(bytes.subarray(Math.max(start, end)));
  }

  #scan(bytes: Uint8Array): boolean {
    const n = bytes.length;
    let need = this.#need, lo = this.#lo, hi = this.#hi;
    let i = 0;
    while (i < n) {
      const b = bytes[i++];
      if (need === 0) {
        if (b < 0x80) {
          // ASCII run: the common case, kept tight.
          while (i < n && bytes[i] < 0x80) i++;
          continue;
        }
        if (b < 0xc2) return this.#fail();
        if (b < 0xe0) {
          need = 1;
          lo = 0x80, hi = 0xbf;
        } else if (b < 0xf0) {
          need = 2;
          lo = b === 0xe0 ? 0xa0 : 0x80;
          hi = b === 0xed ? 0x9f : 0xbf;
        } else if (b < 0xf5) {
          need = 3;
          lo = b === 0xf0 ? 0x90 : 0x80;
          hi = b === 0xf4 ? 0x8f : 0xbf;
        } else {
          return this.#fail();
        }
      } else {
        if (b < lo || b > hi) return this.#fail();
        need--;
        lo = 0x80, hi = 0xbf;
      }
    }
    this.#need = need;
    this.#lo = lo;
    this.#hi = hi;
    return true;
  }

  #fail(): boolean {
    this.reset();
    return false;
  }
}

// Where the trailing incomplete character (if any) of `bytes` begins; bytes.length if none.
function lastBoundary(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let k = 1; k <= 3 && k <= n; k++) {
    const b = bytes[n - k];
    if (b < 0x80) return n;
    if (b >= 0xc0) {
      const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return len > k ? n - k : n;
    }
  }
  return n; // no lead byte near the end: let the validator judge the whole
}

const shared = new Utf8Validator();

/** True when `bytes` is complete, valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  shared.reset();
  const ok = shared.push(bytes) && shared.complete;
  shared.reset();
  return ok;
}
