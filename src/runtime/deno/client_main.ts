// `deno task client URL`: the terminal client's Deno side (the only file of the client naming
// Deno): the TCP or TLS connection, stdin lines, stdout/stderr, Ctrl-C, and the exit status.

import {
  CLIENT_USAGE,
  type ClientArgs,
  ClientExit,
  parseClientArgs,
  runClient,
  UsageError,
} from "../../client/cli.ts";
import type { Socket } from "../../connection/socket.ts";
import { DenoSocket } from "./tcp.ts";

const encoder = new TextEncoder();

/** Connects to the URL's host and port: TLS for wss:// (trusting --ca when given). */
export async function connect(args: ClientArgs): Promise<Socket> {
  const { url } = args;
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const tls = url.protocol === "wss:";
  const port = url.port === "" ? (tls ? 443 : 80) : Number(url.port);
  if (!tls) return new DenoSocket(await Deno.connect({ hostname, port }));
  const caCerts = args.ca === null ? undefined : [await Deno.readTextFile(args.ca)];
  const conn = await Deno.connectTls({ hostname, port, caCerts });
  await conn.handshake(); // a certificate the client does not trust fails here, named as such
  return new DenoSocket(conn);
}

/** Stdin as lines (without "\n" or "\r\n"). */
async function* stdinLines(): AsyncIterable<string> {
  let pending = "";
  for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf("\n")) !== -1) {
      yield pending.slice(0, nl).replace(/\r$/, "");
      pending = pending.slice(nl + 1);
    }
  }
  if (pending !== "") yield pending;
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(CLIENT_USAGE);
    Deno.exit(ClientExit.Ok);
  }
  let args: ClientArgs;
  try {
    args = parseClientArgs(Deno.args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`wsecho-client: ${err.message}\n\n${CLIENT_USAGE}`);
    Deno.exit(ClientExit.Usage);
  }
  const status = await runClient(args, {
    connect,
    lines: stdinLines(),
    out: (line) => console.log(line),
    outBytes: (bytes) => {
      Deno.stdout.writeSync(bytes);
      Deno.stdout.writeSync(encoder.encode("\n"));
    },
    err: (line) => console.error(line),
    onOpen: (close) => {
      // Ctrl-C: close with the close handshake; a second one quits at once.
      let closing = false;
      Deno.addSignalListener("SIGINT", () => {
        if (closing) Deno.exit(ClientExit.Abnormal);
        closing = true;
        close();
      });
    },
  });
  Deno.exit(status);
}
