// The echo application: every message goes back as it came, text as text, binary as binary.

import type { WebSocketConnection } from "./websocket/connection.ts";

/** Echoes each message until the connection closes, waiting for the writer (backpressure). */
export async function echo(conn: WebSocketConnection): Promise<void> {
  for await (const message of conn) await conn.send(message);
}
