// Decoded frame pieces, as the decoder hands them to the Session, for tests without a decoder.

import type { FramePiece } from "../../src/protocol/frame.ts";

/** The pieces of one data frame split at `cuts` (as over several reads). */
export function pieces(
  opcode: number,
  payload: Uint8Array,
  cuts: number[],
  { fin = true, rsv = 0 }: { fin?: boolean; rsv?: number } = {},
): FramePiece[] {
  const out: FramePiece[] = [];
  let start = 0;
  for (const end of [...cuts, payload.length]) {
    out.push({
      fin,
      rsv,
      opcode,
      length: payload.length,
      maskKey: 0,
      headerLength: 8,
      payload: payload.subarray(start, end),
      offset: start,
      first: start === 0,
      end: end === payload.length,
    });
    start = end;
  }
  return out;
}
