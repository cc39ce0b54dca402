import { backoffDelay, canRetry } from './backoff.js';
import { cancelStepTimers, emit, leaf, lifecycle, renderMessage, schedule, cancelTimer, sendCommand, stepOf, type Run } from './run.js';
import { forEachStage, stepNamesInOrder } from './for-each.js';
import type { CompensationReason } from './state.js';
import { compensateChild } from './child.js';

/**
 * The backward path: compensating, one step at a time, every step whose work may have
 * happened, latest completion first (DESIGN section 1, points 1 to 3).
 */

/** Gives up the active steps and starts compensating. The instance must be `running`. */
export function beginCompensation(run: Run, reason: CompensationReason): void {
  for (const name of stepNamesInOrder(run.def, run.state)) {
    const st = stepOf(run, name);
    if (st.status !== 'running' && st.status !== 'retrying') continue;
    // A forEach stage arms no timer and sends nothing itself: its elements carry the outcomes.
    const stage = forEachStage(run.def, name) !== undefined;
    if (!stage) cancelStepTimers(run, name, st.attempt);
    const dispatched = st.commands.length > 0;
    emit(run, { type: 'StepGivenUp', at: run.env.now, step: name, status: dispatched ? 'timed_out' : 'failed', outcome: dispatched ? 'unknown' : 'not_done' });
  }
  const queue = Object.entries(run.state.steps)
    .filter(([name, st]) => (st.outcome === 'done' || st.outcome === 'unknown') && compensable(run, name))
    .sort(([, a], [, b]) => (b.doneSeq ?? 0) - (a.doneSeq ?? 0))
    .map(([name]) => name);
  emit(run, { type: 'CompensationStarted', at: run.env.now, reason, queue });
  if (run.state.deadlineAt !== null) cancelTimer(run, { kind: 'deadline' });
  continueCompensation(run);
}

/** True when the step has a compensation and sits before the pivot. */
export function compensable(run: Run, name: string): boolean {
  // A forEach stage is undone through its elements, each compensated as a step of its own.
  if (forEachStage(run.def, name) !== undefined) return false;
  const l = leaf(run, name);
  // A child saga is undone by its own compensations: a `saga` step before the pivot always is.
  return (l.compensate !== null || l.kind === 'saga') && !l.afterPivot;
}

/** Dispatches the head of the queue, or ends the saga `compensated` when the queue is empty. */
export function continueCompensation(run: Run): void {
  if (run.state.status !== 'compensating') return;
  const head = run.state.compensation.queue[0];
  if (head === undefined) {
    emit(run, { type: 'SagaCompensated', at: run.env.now });
    // Stryker disable next-line OptionalChaining: a compensating instance always has its plan
    lifecycle(run, 'SagaCompensated', run.state.compensation?.reason.message);
    return;
  }
  const comp = stepOf(run, head).compensation;
  if (comp === null || comp.status === 'pending') dispatchCompensation(run, head, (comp?.attempt ?? 0) + 1);
}

export function dispatchCompensation(run: Run, step: string, attempt: number): void {
  if (leaf(run, step).kind === 'saga') {
    compensateChild(run, step);
    return;
  }
  const spec = leaf(run, step).compensate;
  // Stryker disable next-line ConditionalExpression,StringLiteral: only compensable steps are queued; an invariant, not a path
  if (spec === null) throw new Error(`step ${step} has no compensation`);
  const msg = renderMessage(run, spec.command, step);
  if (!msg.ok) {
    // Rendering is deterministic: retrying cannot help, so this waits for an operator.
    compensationFailed(run, step, msg.error);
    return;
  }
  const timeoutAt = run.env.now + spec.timeout;
  const commandId = sendCommand(run, { spec: spec.command, payload: msg.payload, step, attempt, undo: true, deadlineAt: timeoutAt });
  emit(run, { type: 'CompensationDispatched', at: run.env.now, step, attempt, commandId, timeoutAt });
  schedule(run, { kind: 'comp_timeout', step, attempt }, timeoutAt);
}

/** A compensation attempt got no success (any reply but success, or a timeout). */
export function compensationAttemptFailed(run: Run, step: string, error: string): void {
  const spec = leaf(run, step).compensate;
  const comp = stepOf(run, step).compensation;
  // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: called only for the head, whose compensation is under way; an invariant, not a path
  if (spec === null || comp === null) throw new Error(`step ${step} is not compensating`);
  cancelCompensationTimers(run, step);
  if (!canRetry(spec.retry, comp.attempt)) {
    compensationFailed(run, step, `${error} (attempt ${comp.attempt} of ${comp.attempt}, no retries left)`);
    return;
  }
  const retryAt = run.env.now + backoffDelay(spec.retry, comp.attempt, run.env.random());
  emit(run, { type: 'CompensationAttemptFailed', at: run.env.now, step, attempt: comp.attempt, error, retryAt });
  schedule(run, { kind: 'comp_retry', step, attempt: comp.attempt }, retryAt);
}

/** A compensation failed for good: the instance waits for an operator as `failed`. */
export function compensationFailed(run: Run, step: string, error: string): void {
  emit(run, { type: 'CompensationFailed', at: run.env.now, step, error });
  emit(run, { type: 'SagaFailed', at: run.env.now, step, error });
  lifecycle(run, 'SagaFailed', `compensation of ${step} failed: ${error}`);
}

/** Cancels the timer a compensation has armed: its attempt timeout or its retry. */
function cancelCompensationTimers(run: Run, step: string): void {
  const comp = stepOf(run, step).compensation;
  // Stryker disable next-line OptionalChaining: called only for a step whose compensation exists
  if (comp?.status === 'running') cancelTimer(run, { kind: 'comp_timeout', step, attempt: comp.attempt });
  // Stryker disable next-line OptionalChaining: as above
  if (comp?.status === 'retrying') cancelTimer(run, { kind: 'comp_retry', step, attempt: comp.attempt });
}

/** The compensation of the head step succeeded: move on to the next. */
export function stepCompensated(run: Run, step: string, replyId: string | null): void {
  cancelCompensationTimers(run, step);
  emit(run, { type: 'StepCompensated', at: run.env.now, step, replyId });
  continueCompensation(run);
}

/**
 * A success reply for a step that is no longer active and the saga is compensating or has
 * ended: the work happened after all. If its compensation has not begun, it is compensated
 * next (it is now the latest completion); if it has begun or is done, nothing more to do.
 */
export function lateSuccess(run: Run, step: string, replyId: string, output: unknown): boolean {
  const s = run.state;
  const st = stepOf(run, step);
  if (s.compensation === null || st.compensation !== null || !compensable(run, step)) return false;
  if (s.compensation.queue.includes(step)) {
    if (st.outcome === 'done') return false;
    emit(run, { type: 'LateSuccessRecorded', at: run.env.now, step, replyId, output, queue: null });
    return true;
  }
  const queue = [...s.compensation.queue];
  const head = queue[0];
  // Stryker disable next-line ConditionalExpression,LogicalOperator: a head in the queue outside a decision always has its compensation begun, and an empty queue takes the step at 0 either way
  const headBusy = head !== undefined && stepOf(run, head).compensation !== null;
  queue.splice(headBusy ? 1 : 0, 0, step);
  emit(run, { type: 'LateSuccessRecorded', at: run.env.now, step, replyId, output, queue });
  continueCompensation(run);
  return true;
}
