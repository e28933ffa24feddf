// Structured logs: one JSON object per line on stdout, for events that matter (never per message
// at the default level).

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** A logger writing JSON lines at or above its level. */
export class Logger {
  readonly #min: number;
  readonly #fields: Record<string, unknown>;
  readonly #write: (line: string) => void;

  constructor(
    level: LogLevel,
    fields: Record<string, unknown> = {},
    write: (line: string) => void = (line) => console.log(line),
  ) {
    this.#min = RANK[level];
    this.#fields = fields;
    this.#write = write;
  }

  /** True when events at `level` are written (to skip building fields that would be dropped). */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#min;
  }

  /** Writes `event` with `fields` if `level` is enabled. */
  log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    if (RANK[level] < this.#min) return;
    this.#write(JSON.stringify({
      time: new Date().toISOString(),
      level,
      event,
      ...this.#fields,
      ...fields,
    }));
  }
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
