/** Fields a log line may carry. Values are never headers or bodies: nothing secret is logged. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  /** Detail below the line per request (each upstream call): off unless LOG_LEVEL is `debug`. */
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The `LOG_LEVEL` var as a level; anything else (or nothing) is `info`. */
export function logLevel(value: string | undefined): LogLevel {
  return value === "debug" || value === "warn" || value === "error" ? value : "info";
}

/**
 * A structured JSON logger whose every line carries `base` (the request id). Lines below `min`
 * are dropped: `info` writes one line per request, `debug` adds one per upstream call, and `warn`
 * drops the line per request, which costs throughput where logs are slow.
 */
export function createLogger(base: LogFields, min: LogLevel = "info"): Logger {
  const write = (level: LogLevel, event: string, fields?: LogFields) => {
    if (RANK[level] < RANK[min]) return;
    const line = JSON.stringify({ level, event, ...base, ...fields, at: new Date().toISOString() });
    if (level === "error") console.error(line);
    else console.log(line);
  };
  return {
    debug: (event, fields) => write("debug", event, fields),
    info: (event, fields) => write("info", event, fields),
    warn: (event, fields) => write("warn", event, fields),
    error: (event, fields) => write("error", event, fields),
  };
}

/** A thrown value as a loggable name and message, never its stack or cause chain. */
export function describeError(err: unknown): LogFields {
  if (err instanceof Error) return { error: err.name, message: err.message };
  return { error: "unknown", message: String(err) };
}
