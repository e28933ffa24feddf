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
}

type Parser = (raw: string) => unknown;

interface OptionSpec {
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
  opt("port", "--port", "PORT", "8080", int(0, 65535), "TCP port to listen on (0 = any free)"),
  opt(
    "maxMessage",
    "--max-message",
    "MAX_MESSAGE",
    "16m",
    size(1),
    "largest message, summed over fragments; larger ones are closed with 1009",
  ),
  opt(
    "maxHead",
    "--max-head",
    "MAX_HEAD",
    "8k",
    size(256),
    "largest HTTP request head; larger ones get 431",
  ),
  opt("maxHeaders", "--max-headers", "MAX_HEADERS", "100", int(1), "most header fields; 431"),
  opt(
    "maxTarget",
    "--max-target",
    "MAX_TARGET",
    "4k",
    size(16),
    "longest request-target; longer ones get 414",
  ),
  opt(
    "handshakeTimeout",
    "--handshake-timeout",
    "HANDSHAKE_TIMEOUT",
    "10s",
    duration,
    "time to send a complete request head before the socket is closed (slowloris)",
  ),
  opt(
    "closeTimeout",
    "--close-timeout",
    "CLOSE_TIMEOUT",
    "5s",
    duration,
    "wait for the peer's close frame (and our last writes) before closing TCP",
  ),
  opt(
    "pingInterval",
    "--ping-interval",
    "PING_INTERVAL",
    "30s",
    duration,
    "ping a connection idle this long (0 = never)",
  ),
  opt(
    "pingTimeout",
    "--ping-timeout",
    "PING_TIMEOUT",
    "20s",
    duration,
    "no frame within this long after a ping: close 1001 and drop TCP",
  ),
  opt(
    "maxConnections",
    "--max-connections",
    "MAX_CONNECTIONS",
    "10000",
    int(1),
    "open connections; beyond it new ones get 503 with Retry-After",
  ),
  opt(
    "maxConnectionsPerIp",
    "--max-connections-per-ip",
    "MAX_CONNECTIONS_PER_IP",
    "0",
    int(0),
    "open connections from one address (0 = no cap); beyond it 503",
  ),
  opt(
    "maxBackpressure",
    "--max-backpressure",
    "MAX_BACKPRESSURE",
    "1m",
    size(1024),
    "queued outgoing bytes above which a connection is not read from",
  ),
  opt(
    "maxMemory",
    "--max-memory",
    "MAX_MEMORY",
    "128m",
    size(1024 * 1024),
    "input memory (read buffers, messages) of all connections together; a message that would " +
      "cross it is closed with 1013",
  ),
  opt(
    "allowedOrigins",
    "--allowed-origins",
    "ALLOWED_ORIGINS",
    "",
    list,
    "comma-separated Origin allow-list for upgrades (empty = any); others get 403",
  ),
  opt(
    "protocols",
    "--protocols",
    "PROTOCOLS",
    "",
    list,
    "subprotocols the server may select, in order of preference (empty = never select one)",
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
    "debug | info | warn | error | silent",
  ),
  opt("workers", "--workers", "WORKERS", "1", int(1, 64), "processes sharing the port (Linux)"),
  opt(
    "deflate",
    "--deflate",
    "DEFLATE",
    "on",
    onOff,
    "permessage-deflate (RFC 7692): on | off; when on, a client's offer is accepted",
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
  if ((config.workers as number) > 1 && config.port === 0) {
    // Port 0 would give every worker a port of its own.
    throw new ConfigError("--workers above 1 needs a fixed --port (not 0)");
  }
  return config as unknown as Config;
}

/** The `--help` text. */
export function helpText(): string {
  const lines = [
    "wsecho — a WebSocket echo server (RFC 6455)",
    "",
    "usage: deno task start [options]     options may also be set by environment variable",
    "",
  ];
  for (const o of OPTIONS) {
    lines.push(`  ${(o.flag + " / " + o.env).padEnd(48)} default ${o.default || "(none)"}`);
    lines.push(`      ${o.help}`);
  }
  lines.push("", "sizes take k/m suffixes (1k = 1024); durations ms/s/m (bare numbers are ms)");
  return lines.join("\n");
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
