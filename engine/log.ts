
/** Log levels, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** A structured log sink passed to each part: a message and its fields; it never throws. */
export type LogFn = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** The logger used when none is passed in: it drops everything. */
export const silentLog: LogFn = () => undefined;

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const reserved = new Set(['time', 'level', 'msg']);

/** True for one of the four log level names. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.hasOwn(rank, value);
}

/** Where finished lines go; stderr unless a test passes its own. */
export type LogSink = (line: string) => void;

const stderrSink: LogSink = (line) => { process.stderr.write(line); };

/**
 * Creates a logger that writes one JSON object per line (`time`, `level`, `msg`, then the fields)
 * for messages at `level` or above; it never throws, whatever the fields hold.
 */
export function createLogger(level: LogLevel, sink: LogSink = stderrSink): LogFn {
  const min = rank[level];
  return (lvl, msg, fields) => {
    if (rank[lvl] < min) return;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg };
    // A field must not overwrite the line's own keys.
    for (const [k, v] of Object.entries(fields ?? {})) record[reserved.has(k) ? `field.${k}` : k] = v;
    sink(`${serialize(record)}\n`);
  };
}

function serialize(record: Record<string, unknown>): string {
  try {
    const seen = new WeakSet<object>();
    return JSON.stringify(record, (_key, value: unknown) => {
      if (typeof value === 'bigint') return value.toString();
      if (value instanceof Error) {
        const code = (value as { code?: unknown }).code;
        return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }), ...(value.cause === undefined ? {} : { cause: value.cause }) };
      }
      if (typeof value === 'object' && value !== null) {
        if (seen.has(value)) return '[repeated]'; // also breaks cycles
        seen.add(value);
      }
      return value;
    });
  } catch (err) {
    return JSON.stringify({ time: record.time, level: record.level, msg: record.msg, logError: String(err) });
  }
}
