// Floor reference for Deno: a plain TCP echo (no HTTP, no WebSocket), one pending conn.read() into
// its own buffer per connection, each read written back whole with conn.write().
// usage: deno run --allow-net bench/deno_tcp_echo.ts [PORT] [BUFFER_BYTES]   (127.0.0.1; 1024)
// Drive it with `wsload --raw`. bench/memory.sh (part (a)) runs it with 1024-byte buffers: the least
// a Deno server can hold per idle connection; bench/load.sh (S1-S4) with 65536-byte ones: the
// throughput and CPU per message that JavaScript on Deno reaches with nothing but the socket calls.

const port = Number(Deno.args[0] ?? 9003);
const size = Number(Deno.args[1] ?? 1024);
const listener = Deno.listen({ hostname: "127.0.0.1", port });
console.log(
  `deno tcp echo listening on 127.0.0.1:${port} (${size}-byte read buffer per connection)`,
);

async function echo(conn: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(size);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      for (let done = 0; done < n;) done += await conn.write(buf.subarray(done, n));
    }
  } catch {
    // reset by the peer: this connection is over
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

for await (const conn of listener) {
  // As wsecho does: without it, Nagle's algorithm holds the tail of a large echo until the
  // client's delayed ACK (40 ms stalls in S4).
  conn.setNoDelay(true);
  echo(conn);
}
