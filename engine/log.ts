import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger } from 'pino';

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

/**
 * The trace and span ids of the OpenTelemetry span active where a line is logged, so a line
 * can be found from a trace and the other way round. Without a configured tracer there is no
 * active span, and this costs one lookup of the (no-op) context.
 */
function activeTrace(): Record<string, string> {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc !== undefined && isSpanContextValid(sc) ? { traceId: sc.traceId, spanId: sc.spanId } : {};
}

/** Pure: `{traceId}` of a W3C `traceparent` header among `headers`, or nothing when there is none or it is malformed. */
export function traceIdOf(headers: Readonly<Record<string, string>>): { traceId?: string } {
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(headers.traceparent ?? '');
  return m?.[1] === undefined || /^0+$/.test(m[1]) ? {} : { traceId: m[1] };
}

/** Longest header value a log line copies: a publisher chooses them, up to the 64 KiB of a message's headers. */
export const MAX_HEADER_FIELD = 200;

/** Pure: `value` cut to {@link MAX_HEADER_FIELD} characters, saying its length when cut. */
export function capped(value: string): string {
  return value.length <= MAX_HEADER_FIELD ? value : `${value.slice(0, MAX_HEADER_FIELD)}… (${value.length} characters)`;
}

/**
 * Pure: the log fields a message's headers give: `instance`, `saga` and `step` from sagad's
 * command headers (`Saga-Id`, `Saga-Name`, `Saga-Step`) when a reply carries them back, and
 * `traceId` from `traceparent`. Nothing for a header that is absent; a long value is cut ({@link capped}).
 */
export function messageFields(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  const instance = headers['Saga-Id'];
  const saga = headers['Saga-Name'];
  const step = headers['Saga-Step'];
  if (instance !== undefined && instance !== '') out.instance = capped(instance);
  if (saga !== undefined && saga !== '') out.saga = capped(saga);
  if (step !== undefined && step !== '') out.step = capped(step);
  return { ...out, ...traceIdOf(headers) };
}

/**
 * sagad's pino logger: one JSON object per line, `level` as a name (`"warn"`, not 30), `time`
 * as an ISO string, `msg`, then the fields, and `traceId`/`spanId` when an OpenTelemetry span
 * is active. fastify logs through it too (its request lines carry `reqId`). Lines are written
 * synchronously: a process that kills itself right after a line (fault injection, a fatal
 * error) must not lose it.
 */
export function createPinoLogger(level: LogLevel, sink?: LogSink): Logger {
  const stream: DestinationStream = sink === undefined ? pino.destination({ dest: 2, sync: true }) : { write: (line: string) => sink(line) };
  return pino({
    level,
    base: null,
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // pino's own `err` serializer would rewrite the errors logFnOf has already made plain.
    serializers: { err: (e: unknown) => (e instanceof Error ? plain(e, new WeakSet()) : e) },
    // Trace ids after the line's own fields, not before its message.
    mixin: activeTrace,
    mixinMergeStrategy: (line, ids) => Object.assign(line, ids),
  }, stream);
}

/**
 * The {@link LogFn} the engine's parts call, writing through `logger`: fields named `time`,
 * `level` or `msg` become `field.time` and so on (they must not overwrite the line's own);
 * errors become `{name, message, code, cause}`, bigints strings, and an object met twice
 * (a cycle) `"[repeated]"`. It never throws, whatever the fields hold.
 */
export function logFnOf(logger: Logger): LogFn {
  return (lvl, msg, fields) => {
    if (!logger.isLevelEnabled(lvl)) return;
    try {
      const line: Record<string, unknown> = { msg };
      const seen = new WeakSet<object>();
      for (const [k, v] of Object.entries(fields ?? {})) line[reserved.has(k) ? `field.${k}` : k] = plain(v, seen);
      logger[lvl](line);
    } catch (err) {
      logger[lvl]({ msg, logError: String(err) });
    }
  };
}

/**
 * Creates a logger that writes one JSON object per line (`level`, `time`, `msg`, then the fields)
 * for messages at `level` or above, to stderr or `sink`; it never throws, whatever the fields hold.
 */
export function createLogger(level: LogLevel, sink?: LogSink): LogFn {
  return logFnOf(createPinoLogger(level, sink));
}

/** A copy of `value` that JSON.stringify renders as the log promises (see {@link logFnOf}). */
function plain(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[repeated]'; // also breaks cycles
  seen.add(value);
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name, message: value.message, ...(code === undefined ? {} : { code: plain(code, seen) }),
      ...(value.cause === undefined ? {} : { cause: plain(value.cause, seen) }),
    };
  }
  if (Array.isArray(value)) return value.map((v) => plain(v, seen));
  // Dates, buffers and the like say themselves how they are written.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = plain(v, seen);
  return out;
}
