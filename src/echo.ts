// The echo application: every message goes back as it came, text as text, binary as binary.

import type { WebSocketConnection } from "./connection/connection.ts";

/** Echoes each message until the connection closes, waiting for the writer (backpressure). */
export async function echo(conn: WebSocketConnection): Promise<void> {
  // The message is handed back (transfer): its memory can take the next input once it is sent.
  for await (const message of conn) await conn.send(message, { transfer: true });
}
