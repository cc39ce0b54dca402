import type { LogFn, LogLevel } from '../log.js';

/** How often a line of one kind (a failure, a drop) is written at most, by the inbound side and the start requests. */
export const LOG_INTERVAL_MS = 10_000;

/** Most kinds of line remembered at once; beyond it the memory starts afresh (a flood of distinct lines is logged). */
const MAX_KINDS = 1_000;

/** Pure: a reason with its particulars (quoted text, numbers) blanked, so copies of one failure read the same. */
export function kindOf(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '…').replace(/\d+/g, '#').slice(0, 200);
}

/**
 * A log that writes a line of each kind once per `intervalMs`: a flood of identical failures
 * (garbage on a subject, one poison message redelivered) costs one line per interval, and the
 * next line of that kind says how many were left out (`suppressed`).
 */
export function throttledLog(log: LogFn, intervalMs: number, now: () => number = Date.now): (level: LogLevel, msg: string, kind: string, fields: Record<string, unknown>) => void {
  const seen = new Map<string, { until: number; suppressed: number }>();
  return (level, msg, kind, fields) => {
    const key = `${msg}\u0000${kind}`;
    const t = now();
    const last = seen.get(key);
    if (last !== undefined && t < last.until) {
      last.suppressed++;
      return;
    }
    if (seen.size >= MAX_KINDS) seen.clear();
    seen.set(key, { until: t + intervalMs, suppressed: 0 });
    log(level, msg, last === undefined || last.suppressed === 0 ? fields : { ...fields, suppressed: last.suppressed });
  };
}

/** A throttled log as {@link throttledLog} returns it. */
export type ThrottledLog = ReturnType<typeof throttledLog>;

/**
 * Says that a wait step's `match` failed on an event (an error, or a limit that stopped it), so
 * the instance did not take the event: once per interval for each saga and step.
 */
export function matchFailed(warn: ThrottledLog, state: { id: string; saga: string },
  m: { subject: string; eventType: string; eventId: string }, failure: { step: string; error: string }): void {
  warn('warn', 'a wait step\'s match failed on an event, so the instance did not take it', `${state.saga} ${failure.step}`, {
    instance: state.id, saga: state.saga, step: failure.step, subject: m.subject, eventType: m.eventType, eventId: m.eventId, error: failure.error,
  });
}
