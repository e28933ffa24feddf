// Every setting in one place: its flag, environment variable, default, parser and what enforces
// it. Flags win over environment variables; a bad value stops the start with one clear line.

/** The server's settings. Durations are milliseconds, sizes bytes; 0 turns a limit off. */
export interface Config {
  host: string;
  port: number;
  maxMessage: number;
  maxHead: number;
  maxHeaders: number;
  maxTarget: number;
  handshakeTimeout: number;
  closeTimeout: number;
  pingInterval: number;
  pingTimeout: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxBackpressure: number;
  maxMemory: number;
  allowedOrigins: string[];
  protocols: string[];
  drainTimeout: number;
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  workers: number;
  deflate: boolean;
  deflateWindowBits: number;
  deflateMemLevel: number;
  deflateThreshold: number;
  deflateContextTakeover: boolean;
  /** "auto": text when stdout is a terminal, else JSON (decided by the runtime at start). */
  logFormat: "auto" | "text" | "json";
  /** PEM certificate chain and private key files: serve HTTPS and wss:// ("" = plain TCP). */
  cert: string;
  key: string;
}

type Parser = (raw: string) => unknown;

/** One option: its Config key, flag, environment variable, default, parser and help (Markdown). */
export interface OptionSpec {
  key: keyof Config;
  flag: string;
  env: string;
  default: string;
  parse: Parser;
  help: string;
}

const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"];

/** The options table: the source of `--help` and of the README's table. */
export const OPTIONS: readonly OptionSpec[] = [
  opt("host", "--host", "HOST", "0.0.0.0", text, "address to listen on"),
  opt("port", "--port", "PORT", "8080", int(0, 65535), "TCP port (0 = any free port)"),
  opt(
    "maxMessage",
    "--max-message",
    "MAX_MESSAGE",
    "16m",
    size(1),
    "message size summed over fragments: close **1009**, decided from the frame header",
  ),
  opt(
    "maxHead",
    "--max-head",
    "MAX_HEAD",
    "8k",
    size(256),
    "HTTP request head: **431**, sent as soon as the limit is crossed",
  ),
  opt("maxHeaders", "--max-headers", "MAX_HEADERS", "100", int(1), "header fields: **431**"),
  opt(
    "maxTarget",
    "--max-target",
    "MAX_TARGET",
    "4k",
    size(16),
    "request-target: **414** (also before the request line ends)",
  ),
  opt(
    "handshakeTimeout",
    "--handshake-timeout",
    "HANDSHAKE_TIMEOUT",
    "10s",
    duration,
    "a client that has not sent a whole request head by then is disconnected (slowloris)",
  ),
  opt(
    "closeTimeout",
    "--close-timeout",
    "CLOSE_TIMEOUT",
    "5s",
    duration,
    "after our close frame, TCP is closed if the peer's close has not arrived",
  ),
  opt(
    "pingInterval",
    "--ping-interval",
    "PING_INTERVAL",
    "30s",
    duration,
    "a connection that has received nothing this long is pinged (0 = never)",
  ),
  opt(
    "pingTimeout",
    "--ping-timeout",
    "PING_TIMEOUT",
    "20s",
    duration,
    'nothing received this long after the ping: close frame **1001** "ping timeout" is sent and TCP dropped at once',
  ),
  opt(
    "maxConnections",
    "--max-connections",
    "MAX_CONNECTIONS",
    "10000",
    int(1),
    "open connections: **503** with `Retry-After: 5`, then closed",
  ),
  opt(
    "maxConnectionsPerIp",
    "--max-connections-per-ip",
    "MAX_CONNECTIONS_PER_IP",
    "0",
    int(0),
    "open connections from one address: **503**",
  ),
  opt(
    "maxBackpressure",
    "--max-backpressure",
    "MAX_BACKPRESSURE",
    "1m",
    size(1024),
    "queued outgoing bytes above which the echo loop waits and the connection is not read",
  ),
  opt(
    "maxMemory",
    "--max-memory",
    "MAX_MEMORY",
    "128m",
    size(1024 * 1024),
    "input memory (read buffers, messages being reassembled or echoed) of all connections of a process or worker: a message that would cross it is closed **1013**",
  ),
  opt(
    "allowedOrigins",
    "--allowed-origins",
    "ALLOWED_ORIGINS",
    "",
    list,
    "comma-separated `Origin` allow-list for upgrades: **403**; requests without `Origin` are allowed",
  ),
  opt(
    "protocols",
    "--protocols",
    "PROTOCOLS",
    "",
    list,
    "comma-separated subprotocols the server may select: the client's first offer on the list; when empty, the client's first offer",
  ),
  opt(
    "drainTimeout",
    "--drain-timeout",
    "DRAIN_TIMEOUT",
    "10s",
    duration,
    "on SIGTERM/SIGINT, time given to close handshakes before exit",
  ),
  opt(
    "logLevel",
    "--log-level",
    "LOG_LEVEL",
    "info",
    oneOf(LOG_LEVELS),
    "`debug` (adds one line per connection opened, and protocol errors), `info`, `warn`, `error` or `silent`",
  ),
  opt(
    "deflate",
    "--deflate",
    "DEFLATE",
    "on",
    onOff,
    "permessage-deflate (RFC 7692): on or off; when on, a client's offer is accepted",
  ),
  opt(
    "deflateWindowBits",
    "--deflate-window-bits",
    "DEFLATE_WINDOW_BITS",
    "15",
    int(8, 15),
    "largest LZ77 window (2^n bytes) the server compresses with, and asks the client to use " +
      "when it allows",
  ),
  opt(
    "deflateMemLevel",
    "--deflate-mem-level",
    "DEFLATE_MEM_LEVEL",
    "8",
    int(1, 9),
    "zlib memLevel of the compressor: memory (2^(n+9) bytes) against speed and ratio",
  ),
  opt(
    "deflateThreshold",
    "--deflate-threshold",
    "DEFLATE_THRESHOLD",
    "64",
    size(0),
    "messages smaller than this are sent uncompressed",
  ),
  opt(
    "deflateContextTakeover",
    "--deflate-context-takeover",
    "DEFLATE_CONTEXT_TAKEOVER",
    "off",
    onOff,
    "off: both sides compress every message afresh (no zlib state kept on idle connections); " +
      "on: the server keeps its window between messages, as does a client that wants to",
  ),
  opt(
    "workers",
    "--workers",
    "WORKERS",
    "1",
    int(1, 64),
    "workers (isolates on their own threads) sharing the port with `SO_REUSEPORT`",
  ),
  opt(
    "logFormat",
    "--log-format",
    "LOG_FORMAT",
    "auto",
    oneOf(["auto", "text", "json"]),
    "`text` (one readable line per event) or `json` (one object per line); `auto`: text when stdout is a terminal, else JSON",
  ),
  opt(
    "cert",
    "--cert",
    "CERT",
    "",
    path,
    "PEM certificate chain file: with `--key`, serve HTTPS and `wss://` (TLS in wsecho; SIGHUP reloads the pair)",
  ),
  opt("key", "--key", "KEY", "", path, "PEM private key file of `--cert`"),
];

/** Environment variable names the server reads (for `--allow-env`). */
export const ENV_NAMES: readonly string[] = OPTIONS.map((o) => o.env);

/** A bad option: the message names it and says what was wrong. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The defaults, as a Config. */
export function defaultConfig(): Config {
  return loadConfig([], {});
}

/**
 * Builds the Config from flags (`--name value` or `--name=value`) and environment variables.
 * Throws ConfigError for an unknown flag or a value its parser rejects.
 */
export function loadConfig(
  args: readonly string[],
  env: Record<string, string | undefined>,
): Config {
  const raw = new Map<OptionSpec, { value: string; from: string }>();
  for (const o of OPTIONS) {
    const v = env[o.env];
    if (v !== undefined && v !== "") raw.set(o, { value: v, from: o.env });
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const o = OPTIONS.find((x) => x.flag === name);
    if (o === undefined) throw new ConfigError(`unknown option ${name} (see --help)`);
    let value: string | undefined = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(`${name} needs a value`);
    value = value.trim();
    raw.set(o, { value, from: name });
  }
  const config: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const given = raw.get(o);
    try {
      config[o.key] = o.parse(given?.value ?? o.default);
    } catch (err) {
      const where = given ? `${given.from}=${given.value}` : `default of ${o.flag}`;
      throw new ConfigError(`invalid ${where}: ${(err as Error).message}`);
    }
  }
  if ((config.cert === "") !== (config.key === "")) {
    throw new ConfigError("--cert and --key (CERT, KEY) go together: give both or neither");
  }
  if ((config.workers as number) > 1 && config.port === 0) {
    // Port 0 would give every worker a port of its own.
    throw new ConfigError("--workers above 1 needs a fixed --port (not 0)");
  }
  return config as unknown as Config;
}

// How a default is shown where its bare value would not say what it means.
const DEFAULT_LABELS: Partial<Record<keyof Config, string>> = {
  maxConnectionsPerIp: "`0` (off)",
  allowedOrigins: "(any)",
  protocols: "(any offered)",
  cert: "(none: plain TCP)",
  key: "(none)",
};

/** An option's default as the README's table and `--help` show it (Markdown). */
export function defaultLabel(o: OptionSpec): string {
  return DEFAULT_LABELS[o.key] ?? (o.default === "" ? "(none)" : `\`${o.default}\``);
}

// Markdown emphasis and code marks, dropped for the terminal.
const plain = (md: string) => md.replaceAll("**", "").replaceAll("`", "");

/** The `--help` text. */
export function helpText(): string {
  const lines = [
    "wsecho — a WebSocket echo server (RFC 6455)",
    "",
    "usage: deno task start [options]     options may also be set by environment variable",
    "",
    "  --help, -h                                       this text",
    "  --version                                        wsecho's, Deno's, V8's and TypeScript's versions",
  ];
  for (const o of OPTIONS) {
    lines.push(`  ${(o.flag + " / " + o.env).padEnd(48)} default ${plain(defaultLabel(o))}`);
    lines.push(`      ${plain(o.help)}`);
  }
  lines.push("", "sizes take k/m suffixes (1k = 1024); durations ms/s/m (bare numbers are ms)");
  return lines.join("\n");
}

/** The README's options table (Markdown; `deno fmt` aligns its columns). */
export function optionsTable(): string {
  const rows = ["| option | env var | default | what enforces it |", "| --- | --- | --- | --- |"];
  for (const o of OPTIONS) {
    rows.push(`| \`${o.flag}\` | \`${o.env}\` | ${defaultLabel(o)} | ${o.help} |`);
  }
  return rows.join("\n");
}

function opt(
  key: keyof Config,
  flag: string,
  env: string,
  def: string,
  parse: Parser,
  help: string,
): OptionSpec {
  return { key, flag, env, default: def, parse, help };
}

// A file name; empty for none.
function path(raw: string): string {
  return raw;
}

function text(raw: string): string {
  if (raw === "") throw new Error("must not be empty");
  return raw;
}

function int(min: number, max = Number.MAX_SAFE_INTEGER): Parser {
  return (raw) => {
    if (!/^\d+$/.test(raw)) throw new Error("not a whole number");
    const n = Number(raw);
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}`);
    return n;
  };
}

function size(min: number): Parser {
  return (raw) => {
    const m = /^(\d+)([kKmMgG]?)(i?[bB])?$/.exec(raw);
    if (m === null) throw new Error("not a size (e.g. 512, 64k, 16m)");
    const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()]!;
    const n = Number(m[1]) * unit;
    if (n < min) throw new Error(`must be at least ${min} bytes`);
    if (n > 2 ** 32) throw new Error("must be at most 4g");
    return n;
  };
}

function duration(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw);
  if (m === null) throw new Error("not a duration (e.g. 500ms, 10s, 2m)");
  const unit = { ms: 1, s: 1000, m: 60_000 }[m[2] ?? "ms"]!;
  return Math.round(Number(m[1]) * unit);
}

function list(raw: string): string[] {
  return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function onOff(raw: string): boolean {
  const v = raw.toLowerCase();
  if (v === "on" || v === "true" || v === "1") return true;
  if (v === "off" || v === "false" || v === "0") return false;
  throw new Error("must be on or off");
}

function oneOf(values: string[]): Parser {
  return (raw) => {
    if (!values.includes(raw)) throw new Error(`must be one of ${values.join(", ")}`);
    return raw;
  };
}
