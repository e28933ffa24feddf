// Incremental UTF-8 validation (RFC 3629, Unicode Table 3-7), so that a text message split over
// frames and reads is checked as it arrives and rejected at its first invalid byte.

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

  /** Feeds the next bytes; false at the first byte that makes the input invalid. */
  push(bytes: Uint8Array): boolean {
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

const shared = new Utf8Validator();

/** True when `bytes` is complete, valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  shared.reset();
  const ok = shared.push(bytes) && shared.complete;
  shared.reset();
  return ok;
}
