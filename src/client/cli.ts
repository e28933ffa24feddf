// `deno task client URL`: the terminal client's arguments, what it prints, and its exit status.
// Runtime-neutral: the socket, the input lines and the output come from
// src/runtime/deno/client_main.ts (the only place the client names Deno).

import type { Socket } from "../connection/socket.ts";
import { CloseCode, isValidCloseCode, Opcode, OPCODE_NAMES } from "../protocol/frame.ts";
import type { Message } from "../protocol/session.ts";
import { type ClientClose, HandshakeError, type WireFrame, WsClient } from "./client.ts";

/** Exit statuses of the client (README, "A terminal client"). */
export const ClientExit = {
  /** Closed with a clean close handshake and code 1000 or 1001, or the code --close asked for. */
  Ok: 0,
  /** Could not connect, or the server refused the upgrade. */
  ConnectFailed: 1,
  /** Bad arguments. */
  Usage: 2,
  /** The connection ended otherwise: no close handshake, or the server closed with an error. */
  Abnormal: 3,
} as const;

/** The client's parsed arguments. */
export interface ClientArgs {
  url: URL;
  binary: boolean;
  ping: boolean;
  close: { code: number; reason: string };
  showFrames: boolean;
  protocols: string[];
  /** PEM file of a CA (or self-signed certificate) to trust for wss://. */
  ca: string | null;
}

/** Usage text for --help and argument errors. */
export const CLIENT_USAGE = `usage: deno task client [options] ws://host:port/path   (or wss://)

Lines read from stdin are sent as text messages; every message received is printed on stdout,
one per line. Status (connected, pongs, the close) goes to stderr. At the end of input the
client waits for the replies to what it sent (a ping's pong, at most 5 s), closes (1000, or
--close), waits for the server's close, and exits.

  --binary             send each line as a binary message (its UTF-8 bytes, without the newline)
  --ping               send a ping right after connecting (the pong is reported on stderr)
  --close CODE REASON  close with this code and reason (may be "") at the end of input
                       (default: 1000 "")
  --show-frames        draw every frame sent and received on stderr (header fields, mask, payload)
  --protocol NAME      offer a subprotocol (repeatable)
  --ca FILE            trust this PEM certificate for wss:// (a self-signed one, say)
  --help               this text

exit status: 0 closed cleanly (1000/1001, or the --close code echoed), 1 could not connect or the
upgrade was refused, 2 bad arguments, 3 closed abnormally (no close handshake, or an error code)`;

/** A bad command line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parses the client's command line. Throws UsageError. */
export function parseClientArgs(args: readonly string[]): ClientArgs {
  let url: URL | null = null;
  const out: Omit<ClientArgs, "url"> = {
    binary: false,
    ping: false,
    close: { code: CloseCode.Normal, reason: "" },
    showFrames: false,
    protocols: [],
    ca: null,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (what: string) => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs ${what}`);
      return v;
    };
    if (a === "--binary") out.binary = true;
    else if (a === "--ping") out.ping = true;
    else if (a === "--show-frames") out.showFrames = true;
    else if (a === "--protocol") out.protocols.push(value("a name"));
    else if (a === "--ca") out.ca = value("a file");
    else if (a === "--close") {
      const raw = value("a code");
      const code = Number(raw);
      if (!/^\d+$/.test(raw) || !isValidCloseCode(code)) {
        throw new UsageError(
          `--close ${raw}: not a close code a client may send (1000-1014, 3000-4999)`,
        );
      }
      const reason = value('a reason (may be "")');
      if (new TextEncoder().encode(reason).length > 123) {
        throw new UsageError("--close: the reason is over 123 bytes");
      }
      out.close = { code, reason };
    } else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else if (url !== null) throw new UsageError(`one URL only (got ${url.href} and ${a})`);
    else {
      try {
        url = new URL(a);
      } catch (err) {
        if (!(err instanceof TypeError)) throw err;
        throw new UsageError(`not a URL: ${a}`);
      }
      if (url.protocol !== "ws:" && url.protocol !== "wss:") {
        throw new UsageError(`${a}: the URL must start with ws:// or wss://`);
      }
    }
  }
  if (url === null) throw new UsageError("no URL given");
  return { url, ...out };
}

/** Payload bytes drawn per frame (as /inspect reports them); the rest is only counted. */
export const SHOWN_BYTES = 32;

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

/**
 * A frame drawn for the terminal: the header's fields as /inspect reports them (FIN, RSV, opcode,
 * MASK, length and its encoding, masking key), then the payload as sent on the wire and as
 * read after unmasking.
 */
export function drawFrame(direction: "in" | "out", f: WireFrame): string {
  const arrow = direction === "out" ? ">" : "<";
  const who = direction === "out" ? "client → server" : "server → client";
  const ext = f.headerLength - (f.masked ? 4 : 0) - 2;
  const encoding = ext === 0 ? "7-bit" : ext === 2 ? "16-bit" : "64-bit";
  const rsv = `${f.rsv >> 2 & 1}${f.rsv >> 1 & 1}${f.rsv & 1}`;
  const name = OPCODE_NAMES[f.opcode] ?? "reserved";
  const key = f.masked
    ? [f.maskKey >>> 24, (f.maskKey >>> 16) & 255, (f.maskKey >>> 8) & 255, f.maskKey & 255]
    : [];
  const lines = [
    `${arrow} ${name} frame, ${who}`,
    `${arrow}   FIN ${f.fin ? 1 : 0}  RSV ${rsv}  opcode 0x${f.opcode.toString(16)} (${name})  ` +
    `MASK ${f.masked ? 1 : 0}  length ${f.length} (${encoding})  header ${f.headerLength} bytes`,
  ];
  const shown = f.payload.subarray(0, SHOWN_BYTES);
  const more = f.length > shown.length ? ` … (${f.length - shown.length} more)` : "";
  if (f.masked) {
    lines.push(`${arrow}   masking key ${hex(new Uint8Array(key))}`);
    const masked = shown.map((b, i) => b ^ key[i & 3]);
    lines.push(`${arrow}   on the wire ${hex(masked)}${more}`);
    lines.push(`${arrow}   unmasked    ${hex(shown)}${more}`);
  } else if (f.length > 0) {
    lines.push(`${arrow}   payload     ${hex(shown)}${more}  (servers do not mask)`);
  }
  if (f.opcode === Opcode.Close && f.payload.length >= 2) {
    const code = (f.payload[0] << 8) | f.payload[1];
    const reason = new TextDecoder().decode(f.payload.subarray(2));
    lines.push(`${arrow}   close code ${code}${reason ? ` reason ${JSON.stringify(reason)}` : ""}`);
  }
  return lines.join("\n");
}

/** Where the client's bytes and lines come from and go to. */
export interface ClientIo {
  /** A connected socket to the URL's host and port (TLS for wss://). */
  connect(args: ClientArgs): Promise<Socket>;
  /** The input lines, without their line ends; ends at end of input. */
  lines: AsyncIterable<string>;
  /** Writes one line to stdout. */
  out(line: string): void;
  /** Writes raw bytes and a newline to stdout (a binary message). */
  outBytes(bytes: Uint8Array): void;
  /** Writes one line to stderr. */
  err(line: string): void;
  /** Called once connected with a way to close (e.g. on Ctrl-C). */
  onOpen?(close: () => void): void;
}

// At the end of input, the longest wait for replies to what was sent before closing.
const END_WAIT_MS = 5000;

/** Runs the client: connect, send lines, print replies, close. Resolves with the exit status. */
export async function runClient(args: ClientArgs, io: ClientIo): Promise<number> {
  let socket: Socket;
  try {
    socket = await io.connect(args);
  } catch (err) {
    io.err(`wsecho-client: cannot connect to ${args.url.host}: ${(err as Error).message}`);
    return ClientExit.ConnectFailed;
  }
  let client: WsClient;
  try {
    client = await WsClient.connect(socket, args.url, { protocols: args.protocols }, {
      message: (m: Message) => m.type === "text" ? io.out(m.text) : io.outBytes(m.data),
      pong: (p) => io.err(`< pong (${p.length} bytes)`),
      frame: args.showFrames ? (d, f) => io.err(drawFrame(d, f)) : undefined,
    });
  } catch (err) {
    if (!(err instanceof HandshakeError)) throw err;
    io.err(`wsecho-client: ${args.url.href}: ${err.message}`);
    return ClientExit.ConnectFailed;
  }
  io.err(
    `connected to ${args.url.href}` + (client.protocol ? ` (subprotocol ${client.protocol})` : ""),
  );
  const close = () => client.close(args.close.code, args.close.reason);
  io.onOpen?.(close);
  if (args.ping) client.ping(new TextEncoder().encode("wsecho-client"));
  const running = client.run();
  let ended = false;
  running.finally(() => ended = true);
  // Lines until the input ends or the connection does.
  const sending = (async () => {
    for await (const line of io.lines) {
      if (ended) break;
      const sent = args.binary
        ? client.sendBinary(new TextEncoder().encode(line))
        : client.sendText(line);
      if (!sent) break;
    }
    // Replies to the last lines may still be on their way: a ping's pong comes after them.
    if (!ended) await client.roundTrip(END_WAIT_MS);
    if (!ended) close();
  })();
  const result = await running;
  // (The input may still be open: it is not waited for once the connection has ended.)
  sending.catch((err) => io.err(`wsecho-client: reading input: ${err}`));
  io.err(describeClose(result));
  return exitStatus(result, args.close.code);
}

/** The closing line on stderr. */
export function describeClose(c: ClientClose): string {
  const reason = c.reason ? ` ${JSON.stringify(c.reason)}` : "";
  const how = c.clean ? "clean close" : "no close handshake";
  const by = c.initiator === "none" ? "" : `, closed by the ${c.initiator}`;
  const error = c.error ? `, protocol error: ${c.error.message}` : "";
  return `closed: ${c.code}${reason} (${how}${by}${error})`;
}

/** The exit status for how the connection ended (see ClientExit). */
export function exitStatus(c: ClientClose, asked: number): number {
  if (!c.clean || c.error !== null) return ClientExit.Abnormal;
  if (c.initiator === "client") return c.code === asked ? ClientExit.Ok : ClientExit.Abnormal;
  return c.code === CloseCode.Normal || c.code === CloseCode.GoingAway
    ? ClientExit.Ok
    : ClientExit.Abnormal;
}
