/** Fields a log line may carry. Values are never headers or bodies: nothing secret is logged. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/** A structured JSON logger whose every line carries the request id. */
export function createLogger(base: LogFields): Logger {
  const write = (level: string, event: string, fields?: LogFields) => {
    const line = JSON.stringify({ level, event, ...base, ...fields, at: new Date().toISOString() });
    if (level === "error") console.error(line);
    else console.log(line);
  };
  return {
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
