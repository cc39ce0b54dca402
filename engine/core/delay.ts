import type { DelayStep } from './definition.js';
import { failStep } from './forward.js';
import { emit, schedule, stepOf, type Run } from './run.js';
import { evaluate, scopeOf } from './template.js';
import { formatIsoTime, MAX_EPOCH_MS, parseIsoTime } from './iso-time.js';

/**
 * The `delay` step: a durable wait. Its end is a timer like a step timeout, stored with the
 * instance, so it fires after a restart and once across replicas; it does nothing to undo.
 */

export type DelayDue = { readonly ok: true; readonly at: number } | { readonly ok: false; readonly error: string };

/**
 * The longest a delay waits: the longest duration a definition may give, 100 years (36525d),
 * as `MAX_DURATION_MS` of engine/definitions/duration.ts, which the core does not import. A
 * timer further out would be a time no `Date` (and so no API document) can show.
 */
export const MAX_DELAY_MS = 100 * 365.25 * 86_400_000;

/** Pure: why `at` (epoch ms) is no time to wait until, seen at `now`; null when it is one. */
function untilProblem(at: number, now: number): string | null {
  if (!Number.isFinite(at)) return 'which is not an ISO timestamp';
  if (!Number.isInteger(at)) return 'which is not a whole number of epoch milliseconds';
  if (at - now > MAX_DELAY_MS) return 'which is more than 100 years (36525d) from now';
  if (Math.abs(at) > MAX_EPOCH_MS) return `which is not between ${formatIsoTime(-MAX_EPOCH_MS)} and ${formatIsoTime(MAX_EPOCH_MS)}`;
  return null;
}

/** Pure: when the delay ends (epoch ms), or why its `until` gave no usable time. */
export function delayDue(run: Run, l: DelayStep): DelayDue {
  if (l.duration !== null) return { ok: true, at: run.env.now + l.duration };
  if (l.until === null) return { ok: false, error: 'the delay has neither for nor until' };
  const r = evaluate(l.until, scopeOf(run.state));
  if (!r.ok) return { ok: false, error: `until: ${r.error}` };
  const at = typeof r.value === 'string' ? parseIsoTime(r.value) : typeof r.value === 'number' ? r.value : Number.NaN;
  const problem = untilProblem(at, run.env.now);
  if (problem !== null) return { ok: false, error: `until: ${l.until.source} gave ${JSON.stringify(r.value) ?? 'nothing'}, ${problem}` };
  return { ok: true, at };
}

/** Starts a delay: a time already past continues at once, an invalid one fails the step. */
export function startDelay(run: Run, l: DelayStep): void {
  const due = delayDue(run, l);
  if (!due.ok) {
    failStep(run, l, due.error, 'failed', 'not_done');
    return;
  }
  emit(run, { type: 'DelayStarted', at: run.env.now, step: l.name, until: due.at });
  if (due.at <= run.env.now) {
    emit(run, { type: 'StepSucceeded', at: run.env.now, step: l.name, replyId: null, output: stepOf(run, l.name).output, pivot: false });
    return;
  }
  schedule(run, { kind: 'delay', step: l.name }, due.at);
}

/** The delay's timer fired: the step succeeds if it is still waiting; true when it was. */
export function delayElapsed(run: Run, step: string): boolean {
  const st = stepOf(run, step);
  if (run.state.status !== 'running' || st.status !== 'running') return false;
  // DelayStarted left `{until}` in the running step's output: it becomes the step's result.
  emit(run, { type: 'StepSucceeded', at: run.env.now, step, replyId: null, output: st.output, pivot: false });
  return true;
}
