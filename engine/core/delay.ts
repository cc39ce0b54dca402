import type { DelayStep } from './definition.js';
import { failStep } from './forward.js';
import { emit, schedule, stepOf, type Run } from './run.js';
import { evaluate, scopeOf } from './template.js';
import { parseIsoTime } from './iso-time.js';

/**
 * The `delay` step: a durable wait. Its end is a timer like a step timeout, stored with the
 * instance, so it fires after a restart and once across replicas; it does nothing to undo.
 */

export type DelayDue = { readonly ok: true; readonly at: number } | { readonly ok: false; readonly error: string };

/** Pure: when the delay ends (epoch ms), or why its `until` gave no usable time. */
export function delayDue(run: Run, l: DelayStep): DelayDue {
  if (l.duration !== null) return { ok: true, at: run.env.now + l.duration };
  if (l.until === null) return { ok: false, error: 'the delay has neither for nor until' };
  const r = evaluate(l.until, scopeOf(run.state));
  if (!r.ok) return { ok: false, error: `until: ${r.error}` };
  const at = typeof r.value === 'string' ? parseIsoTime(r.value) : typeof r.value === 'number' ? r.value : Number.NaN;
  if (!Number.isFinite(at)) {
    return { ok: false, error: `until: ${l.until.source} gave ${JSON.stringify(r.value) ?? 'nothing'}, which is not an ISO timestamp` };
  }
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
