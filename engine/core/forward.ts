import { backoffDelay, canRetry } from './backoff.js';
import type { CommandStep, LeafStep, Stage } from './definition.js';
import type { StepOutcome } from './state.js';
import { beginCompensation } from './compensation.js';
import { advanceForEach } from './for-each-run.js';
import { forEachStage, stepNamesInOrder } from './for-each.js';
import { startChild } from './child.js';
import { startDelay } from './delay.js';
import { parseIsoTime } from './iso-time.js';
import { cancelStepTimers, effect, emit, isPastPivot, leaf, lifecycle, renderMessage, schedule, cancelTimer, sendCommand, stepOf, type Run } from './run.js';
import { evaluate, scopeOf, truthy } from './template.js';

/**
 * The forward path: starting steps in order, retries, and completion. Every function here
 * assumes the instance is `running` and returns as soon as it is not.
 */

const settled = (status: string) => status === 'succeeded' || status === 'skipped';

/** Starts whatever can start now; completes the saga when every stage has settled. */
export function advance(run: Run): void {
  for (const stage of run.def.stages) {
    if (run.state.status !== 'running') return;
    if (!advanceStage(run, stage)) return;
  }
  if (run.state.status !== 'running') return;
  emit(run, { type: 'SagaCompleted', at: run.env.now });
  if (run.state.deadlineAt !== null) cancelTimer(run, { kind: 'deadline' });
  lifecycle(run, 'SagaCompleted');
}

/** Returns true when the stage has settled (all its steps succeeded or skipped). */
function advanceStage(run: Run, stage: Stage): boolean {
  if (stage.kind === 'forEach') return advanceForEach(run, stage);
  if (stage.kind !== 'parallel') return advanceBranch(run, [stage]);
  const untouched = stage.branches.every((b) => b.every((l) => stepOf(run, l.name).status === 'pending'));
  if (untouched && stage.when !== null) {
    const on = whenHolds(run, stage.when, stage.branches[0]?.[0]);
    if (on === null) return false;
    if (!on) {
      for (const b of stage.branches) for (const l of b) emit(run, { type: 'StepSkipped', at: run.env.now, step: l.name });
      return true;
    }
  }
  let all = true;
  for (const branch of stage.branches) {
    if (!advanceBranch(run, branch)) all = false;
    if (run.state.status !== 'running') return false;
  }
  return all;
}

function advanceBranch(run: Run, branch: readonly LeafStep[]): boolean {
  for (const l of branch) {
    if (stepOf(run, l.name).status === 'pending') startLeaf(run, l);
    if (run.state.status !== 'running') return false;
    if (!settled(stepOf(run, l.name).status)) return false;
  }
  return true;
}

/** Evaluates a `when`; on error the given step fails and null is returned. */
export function whenHolds(run: Run, expr: NonNullable<LeafStep['when']>, failing: LeafStep | undefined): boolean | null {
  const r = evaluate(expr, scopeOf(run.state));
  if (r.ok) return truthy(r.value);
  if (failing !== undefined) failStep(run, failing, `when: ${r.error}`, 'failed');
  return null;
}

function startLeaf(run: Run, l: LeafStep): void {
  if (l.when !== null) {
    const on = whenHolds(run, l.when, l);
    if (on === null) return;
    if (!on) {
      // A skipped pivot is passed all the same: what comes after it cannot be undone.
      emit(run, { type: 'StepSkipped', at: run.env.now, step: l.name, ...(l.kind === 'command' && l.pivot ? { pivot: true as const } : {}) });
      return;
    }
  }
  if (l.kind === 'command') {
    dispatch(run, l, 1);
    return;
  }
  if (l.kind === 'delay') {
    startDelay(run, l);
    return;
  }
  if (l.kind === 'saga') {
    startChild(run, l);
    return;
  }
  const timeoutAt = l.timeout === null ? null : run.env.now + l.timeout;
  emit(run, { type: 'WaitStarted', at: run.env.now, step: l.name, timeoutAt });
  if (timeoutAt !== null) schedule(run, { kind: 'wait_timeout', step: l.name }, timeoutAt);
}

/** Sends attempt `attempt` of a command step, or fails the step if its payload cannot be built. */
export function dispatch(run: Run, l: CommandStep, attempt: number): void {
  const msg = renderMessage(run, l.command, l.name);
  if (!msg.ok) {
    failStep(run, l, msg.error, 'failed');
    return;
  }
  const now = run.env.now;
  const timeoutAt = now + l.timeout;
  const deadline = run.state.deadlineAt;
  // The saga deadline stops the wait only before the pivot: once the pivot is sent it is ignored.
  const waitUntil = deadline !== null && !l.afterPivot ? Math.min(timeoutAt, deadline) : timeoutAt;
  const commandId = sendCommand(run, { spec: l.command, payload: msg.payload, step: l.name, attempt, undo: false, deadlineAt: waitUntil });
  emit(run, { type: 'StepDispatched', at: now, step: l.name, attempt, commandId, timeoutAt });
  schedule(run, { kind: 'attempt_timeout', step: l.name, attempt }, timeoutAt);
}

/** An attempt ended without success (retryable reply or timeout): retry or give up. */
export function attemptFailed(run: Run, l: CommandStep, error: string, timedOut: boolean): void {
  const st = stepOf(run, l.name);
  if (!canRetry(l.retry, st.attempt)) {
    failStep(run, l, `${error} (attempt ${st.attempt} of ${st.attempt}, no retries left)`, timedOut ? 'timed_out' : 'failed', 'unknown');
    return;
  }
  const retryAt = run.env.now + backoffDelay(l.retry, st.attempt, run.env.random());
  cancelStepTimers(run, l.name, st.attempt);
  emit(run, { type: 'StepAttemptFailed', at: run.env.now, step: l.name, attempt: st.attempt, error, retryAt });
  schedule(run, { kind: 'retry', step: l.name, attempt: st.attempt }, retryAt);
}

/**
 * A step failed for good. Before the pivot succeeded the saga compensates; after it nothing
 * can be undone, so the instance waits for an operator as `failed` (reachable only through an
 * expression or schema error, since steps after the pivot retry until they succeed).
 */
export function failStep(run: Run, l: LeafStep, error: string, status: 'failed' | 'timed_out', known?: StepOutcome): void {
  const st = stepOf(run, l.name);
  const outcome = known ?? (l.kind === 'command' && st.commands.length > 0 ? 'unknown' : 'not_done');
  cancelStepTimers(run, l.name, st.attempt);
  emit(run, { type: 'StepFailed', at: run.env.now, step: l.name, error, status, outcome });
  if (!isPastPivot(run)) {
    beginCompensation(run, { kind: 'step_failed', step: l.name, message: `step ${l.name} failed: ${error}` });
    return;
  }
  emit(run, { type: 'SagaFailed', at: run.env.now, step: l.name, error });
  lifecycle(run, 'SagaFailed', `step ${l.name} failed after the pivot: ${error}`);
}

/**
 * After an operator's retry of a failure past the pivot, resumes every step still in flight:
 * while the instance was `failed` their replies were not taken and their timers were stale, so
 * nothing else would ever move them. A command step is sent again (the same idempotency key); a
 * delay's timer is armed again for the time it waits until (at once when that has passed); a
 * child saga step asks to hear its child's end again (linked.ts tells it in the same write if
 * the child has ended). A wait step (past the pivot it has no timeout) still waits: the runtime
 * keeps its events that came while the instance was failed and offers them after the retry
 * (early-events.ts).
 */
export function resendInFlight(run: Run): void {
  for (const name of stepNamesInOrder(run.def, run.state)) {
    const st = stepOf(run, name);
    // A forEach stage sends nothing itself: its elements are the steps in flight.
    if ((st.status !== 'running' && st.status !== 'retrying') || forEachStage(run.def, name) !== undefined) continue;
    const l = leaf(run, name);
    if (l.kind === 'delay') {
      // DelayStarted left the time in the running step's output (delay.ts).
      const until = parseIsoTime(String((st.output as { until?: unknown } | null | undefined)?.until));
      schedule(run, { kind: 'delay', step: name }, Number.isNaN(until) ? run.env.now : Math.max(until, run.env.now));
      continue;
    }
    if (l.kind === 'saga') {
      // Its child's end, told while this instance was failed, was not taken: it is told again if it came.
      if (st.awaiting !== null && st.awaiting !== undefined) effect(run, { type: 'HearChild', step: name, childId: st.awaiting });
      continue;
    }
    if (l.kind !== 'command') continue;
    cancelStepTimers(run, name, st.attempt);
    // The journal says why attempt n + 1 goes out: attempt n ends as a timed-out one would.
    if (st.status === 'running') {
      emit(run, { type: 'StepAttemptFailed', at: run.env.now, step: name, attempt: st.attempt, error: 'no reply taken while the instance was failed; sent again on the retry', retryAt: run.env.now });
    }
    dispatch(run, l, st.attempt + 1);
    if (run.state.status !== 'running') return;
  }
}
