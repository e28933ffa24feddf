// TLS (--cert/--key): the same page and endpoints over HTTPS and wss://, with wsecho's own HTTP
// parsing behind Deno.listenTls; a reload of the pair (SIGHUP) keeps open connections and
// refuses a bad pair; the process prints https:// and wss:// URLs.

import assert from "node:assert/strict";
import { ClientExit, parseClientArgs, runClient } from "../../src/client/cli.ts";
import { WsClient } from "../../src/client/client.ts";
import { connect } from "../../src/runtime/deno/client_main.ts";
import { DenoSocket } from "../../src/runtime/deno/tcp.ts";
import { listenTls, TlsFilesError } from "../../src/runtime/deno/tls.ts";
import { runMain, spawnMain } from "../support/main_process.ts";
import { withServer } from "../support/server.ts";
import { HAVE_OPENSSL, makeTlsPair } from "../support/tls_pair.ts";

const SHORT = { handshakeTimeout: 2000, closeTimeout: 500, pingInterval: 0 };
const ignore = !HAVE_OPENSSL;
if (ignore) console.warn("tls_test: openssl not found: the TLS tests are skipped");

/** Runs `fn` with a fresh pair in a temporary directory, removed afterwards. */
async function withPair(
  fn: (p: Awaited<ReturnType<typeof makeTlsPair>>, dir: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "wsecho-tls-" });
  try {
    await fn(await makeTlsPair(dir), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One HTTP/1.1 request over TLS; the whole response as text. */
async function httpsGet(port: number, caPem: string, path: string): Promise<string> {
  using conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caPem] });
  await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
  let text = "";
  const buf = new Uint8Array(65536);
  for (let n; (n = await conn.read(buf)) !== null;) {
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

/** An echo over wss:// with the project's client; resolves with what came back. */
async function wssEcho(port: number, caPem: string, message: string): Promise<string> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caPem] });
  const got: string[] = [];
  const client = await WsClient.connect(
    new DenoSocket(conn),
    new URL(`wss://127.0.0.1:${port}/`),
    {},
    {
      message: (m) => got.push(m.text),
    },
  );
  const running = client.run();
  client.sendText(message);
  await client.roundTrip(5000);
  client.close();
  const end = await running;
  assert.equal(end.clean, true);
  return got.join("|");
}

Deno.test(
  { name: "TLS: the page, /healthz and the echo over HTTPS and wss://", ignore },
  async () => {
    await withPair(async (pair) => {
      await withServer({ ...SHORT, cert: pair.certFile, key: pair.keyFile }, async (port) => {
        const page = await httpsGet(port, pair.certPem, "/");
        assert.match(page, /^HTTP\/1\.1 200 OK\r\n/);
        assert.match(page, /<html/i);
        assert.match(await httpsGet(port, pair.certPem, "/healthz"), /\r\n\r\nok\n$/);
        assert.equal(await wssEcho(port, pair.certPem, "over TLS"), "over TLS");
        // A plain-TCP client gets no HTTP answer from a TLS port: the bytes are not TLS.
        using plain = await Deno.connect({ hostname: "127.0.0.1", port });
        await plain.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        const buf = new Uint8Array(256);
        const n = await plain.read(buf);
        assert.ok(n === null || !new TextDecoder().decode(buf.subarray(0, n)).startsWith("HTTP"));
      });
    });
  },
);

Deno.test(
  { name: "TLS: `deno task client wss://... --ca FILE` echoes and exits 0", ignore },
  async () => {
    await withPair(async (pair) => {
      await withServer({ ...SHORT, cert: pair.certFile, key: pair.keyFile }, async (port) => {
        const out: string[] = [], err: string[] = [];
        const args = parseClientArgs([`wss://127.0.0.1:${port}/`, "--ca", pair.certFile]);
        const status = await runClient(args, {
          connect,
          lines: (async function* () {
            yield "secure";
          })(),
          out: (l) => out.push(l),
          outBytes: () => {},
          err: (l) => err.push(l),
        });
        assert.equal(status, ClientExit.Ok, err.join("\n"));
        assert.deepEqual(out, ["secure"]);
        // Without --ca, the self-signed certificate is not trusted: the connection fails.
        const untrusted = await runClient(parseClientArgs([`wss://127.0.0.1:${port}/`]), {
          connect,
          lines: (async function* () {})(),
          out: () => {},
          outBytes: () => {},
          err: (l) => err.push(l),
        });
        assert.equal(untrusted, ClientExit.ConnectFailed);
        assert.match(err.at(-1)!, /cannot connect .*certificate/i);
      });
    });
  },
);

Deno.test({
  name: "TLS: reload serves the new pair, keeps open connections, refuses a bad one",
  ignore,
}, async () => {
  await withPair(async (first, dir) => {
    const listener = await listenTls({
      hostname: "127.0.0.1",
      port: 0,
      certFile: first.certFile,
      keyFile: first.keyFile,
    });
    const port = listener.addr.port;
    const accepted: Promise<void>[] = [];
    const serving = (async () => {
      for (let s; (s = await listener.accept()) !== null;) {
        const socket = s;
        accepted.push((async () => {
          // A line echo: enough to tell one connection's bytes from another's.
          const buf = new Uint8Array(1024);
          for (let n; (n = await socket.read(buf)) !== null;) await socket.write(buf.slice(0, n));
          socket.close();
        })());
      }
    })();
    const echo = async (conn: Deno.TlsConn, text: string) => {
      await conn.write(new TextEncoder().encode(text));
      const buf = new Uint8Array(1024);
      return new TextDecoder().decode(buf.subarray(0, (await conn.read(buf))!));
    };
    const old = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [first.certPem] });
    assert.equal(await echo(old, "before"), "before");

    const second = await makeTlsPair(dir, "wsecho-renewed"); // overwrites the files
    await listener.reload();
    assert.equal(await echo(old, "across"), "across", "an open connection keeps its session");
    const renewed = await Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [second.certPem],
    });
    assert.equal(await echo(renewed, "after"), "after");
    renewed.close();
    const stale = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [first.certPem] });
    await assert.rejects(stale.handshake(), Deno.errors.InvalidData, "the old certificate is gone");
    stale.close();

    await Deno.writeTextFile(second.certFile, "not a certificate");
    await assert.rejects(listener.reload(), TlsFilesError);
    const still = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [second.certPem] });
    assert.equal(await echo(still, "kept"), "kept", "a bad pair leaves the last good one");
    still.close();
    old.close();
    listener.close();
    await serving;
    await Promise.all(accepted);
  });
});

Deno.test(
  { name: "TLS: the process prints https:// and wss:// and reloads on SIGHUP", ignore },
  async () => {
    await withPair(async (pair, dir) => {
      const p = spawnMain(
        ["--host", "127.0.0.1", "--port", "0", "--cert", pair.certFile, "--key", pair.keyFile],
        // (--allow-read replaces the permission set's list: src/ is named again.)
        [`--allow-read=src,${dir}`],
      );
      const e = JSON.parse(await p.waitFor((l) => l.includes('"listening"')));
      assert.match(e.url, /^wss:\/\/127\.0\.0\.1:\d+\/$/);
      assert.match(e.page, /^https:\/\/127\.0\.0\.1:\d+\/$/);
      const port = Number(new URL(e.page).port);
      assert.equal(await wssEcho(port, pair.certPem, "tls process"), "tls process");
      p.child.kill("SIGHUP");
      await p.waitFor((l) => l.includes('"tls_reloaded"'));
      assert.equal((await p.stop()).code, 0);
    });
  },
);

Deno.test(
  { name: "TLS: a certificate file that cannot be read is named, exit 3", ignore },
  async () => {
    const args = ["--port", "0", "--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"];
    const missing = await runMain(args, ["--allow-read=src,/nonexistent"]);
    assert.equal(missing.code, 3);
    assert.equal(
      missing.err,
      "wsecho: cannot use the TLS pair: --cert /nonexistent/c.pem: no such file\n",
    );
    const denied = await runMain(args); // the permission set reads src/ only
    assert.equal(denied.code, 3);
    assert.match(
      denied.err,
      /--cert \/nonexistent\/c\.pem: Deno may not read it \(run with --allow-read=src,/,
    );
  },
);

Deno.test({
  name: "TLS: Deno's own WebSocket (trusting the pair with --cert) echoes over wss://",
  ignore,
}, async () => {
  await withPair(async (pair) => {
    await withServer({ ...SHORT, cert: pair.certFile, key: pair.keyFile }, async (port) => {
      // Deno's WebSocket takes no caCerts: a child process trusts the certificate instead.
      const script = `const ws = new WebSocket("wss://127.0.0.1:${port}/", ["chat"]);
        ws.onopen = () => ws.send("native " + ws.protocol);
        ws.onmessage = (e) => { console.log(e.data); ws.close(1000); };
        ws.onerror = (e) => { console.error(e.message); Deno.exit(1); };`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--cert", pair.certFile, script],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, err);
      assert.equal(new TextDecoder().decode(out.stdout), "native chat\n");
    });
  });
});
