// Floor reference for idle-connection memory: the least a Deno server can hold per connection —
// a plain TCP echo (no HTTP, no WebSocket) with one pending conn.read() into its own buffer.
// usage: deno run --allow-net bench/deno_tcp_echo.ts [PORT] [BUFFER_BYTES]   (127.0.0.1; 1024)
// Drive it with `wsload --raw` (bench/memory.sh does, for part (a)).

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

for await (const conn of listener) echo(conn);
