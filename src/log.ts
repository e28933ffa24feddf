// Structured logs: one line per event on stdout, for events that matter (never per message at
// the default level): a JSON object for machines, or a short text line for a person at a
// terminal.

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** How a line is written: a JSON object, or `time level event key=value ...`. */
export type LogFormat = "json" | "text";

/**
 * A field that only the text format shows, in place of the other fields: the line a person
 * wants (the JSON object carries the same facts as fields).
 */
export const SUMMARY = "summary";

/** A logger writing lines at or above its level. */
export class Logger {
  readonly #min: number;
  readonly #fields: Record<string, unknown>;
  readonly #write: (line: string) => void;
  readonly #format: LogFormat;

  constructor(
    level: LogLevel,
    fields: Record<string, unknown> = {},
    write: (line: string) => void = (line) => console.log(line),
    format: LogFormat = "json",
  ) {
    this.#min = RANK[level];
    this.#fields = fields;
    this.#write = write;
    this.#format = format;
  }

  /** True when events at `level` are written (to skip building fields that would be dropped). */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#min;
  }

  /** Writes `event` with `fields` if `level` is enabled. */
  log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    if (RANK[level] < this.#min) return;
    const time = new Date().toISOString();
    if (this.#format === "text") {
      this.#write(textLine(time, level, event, { ...this.#fields, ...fields }));
      return;
    }
    const { [SUMMARY]: _, ...rest } = fields;
    this.#write(JSON.stringify({ time, level, event, ...this.#fields, ...rest }));
  }
}

/** One event as a text line: `HH:MM:SS.mmm level event key=value ...` (or its summary). */
export function textLine(
  time: string,
  level: string,
  event: string,
  fields: Record<string, unknown>,
): string {
  let line = `${time.slice(11, 23)} ${level.padEnd(5)} `;
  const summary = fields[SUMMARY];
  if (typeof summary === "string") return line + summary;
  line += event;
  let trailer = "";
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    // A stack goes on the lines below, as it reads in a terminal.
    if (text.includes("\n")) trailer += `\n  ${text.replaceAll("\n", "\n  ")}`;
    else line += ` ${key}=${/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)}`;
  }
  return line + trailer;
}

/** A logger that writes nothing (for tests and embedding). */
export const silentLogger = new Logger("silent");

/**
 * Keeps a bug in one connection from ending the process serving all the others: unhandled
 * rejections and uncaught errors are logged (level error) instead of being fatal.
 */
export function logInsteadOfCrashing(log: Logger): void {
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    log.log("error", "unhandled_rejection", { error: String(e.reason?.stack ?? e.reason) });
  });
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    log.log("error", "uncaught_error", { error: String(e.error?.stack ?? e.message) });
  });
}
