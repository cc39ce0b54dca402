import { findLeaf, type ChildSagaStep } from './definition.js';
import type { ChildOutcome, SagaInput } from './inputs.js';
import { beginCompensation, compensationFailed, continueCompensation, lateSuccess, stepCompensated } from './compensation.js';
import { advance, failStep } from './forward.js';
import { cancelTimer, effect, emit, isPastPivot, leaf, schedule, stepOf, type Run } from './run.js';
import type { InstanceState } from './state.js';
import { evaluate, renderTemplate, scopeOf } from './template.js';

/**
 * The `saga` step: a parent starts a child instance and waits for its end. The shell carries
 * the effects out in the same write as the decision (StartChild, CompensateChild,
 * NotifyParent), so a child starts once with its parent's commit and its end reaches the
 * parent once with its own. The child's id is derived from the parent's id and step, so a
 * decision decided again (a lost race, a redelivery) starts nothing twice.
 */

type Handled = { readonly handled: boolean; readonly why: 'unmatched' | 'duplicate' | 'late' | 'stale' | null };
const yes: Handled = { handled: true, why: null };

/** Pure: the id of the child a `saga` step starts on its `n`th start (an operator's retry starts another). */
export function childIdOf(parentId: string, step: string, n: number): string {
  return `${parentId}.${step}.${n}`;
}

/** Starts the child: renders its input and key, arms the step's timeout; a render error fails the step. */
export function startChild(run: Run, l: ChildSagaStep): void {
  const scope = scopeOf(run.state);
  const input = renderTemplate(l.input, scope);
  if (!input.ok) {
    failStep(run, l, `input: ${input.error}`, 'failed', 'not_done');
    return;
  }
  let key: string | null = null;
  if (l.key !== null) {
    const k = evaluate(l.key, scope);
    if (!k.ok) {
      failStep(run, l, `key: ${k.error}`, 'failed', 'not_done');
      return;
    }
    key = k.value === undefined || k.value === null ? null : typeof k.value === 'string' ? k.value : JSON.stringify(k.value);
  }
  const childId = childIdOf(run.state.id, l.name, stepOf(run, l.name).commands.length + 1);
  const timeoutAt = l.timeout === null ? null : run.env.now + l.timeout;
  emit(run, { type: 'ChildStarted', at: run.env.now, step: l.name, childId, saga: l.saga, timeoutAt });
  effect(run, { type: 'StartChild', step: l.name, childId, saga: l.saga, input: input.value, key, correlationId: run.state.correlationId });
  if (timeoutAt !== null) schedule(run, { kind: 'child_timeout', step: l.name }, timeoutAt);
}

/** The child ran past the step's timeout: the step fails, and compensating it cancels the child. */
export function childTimedOut(run: Run, step: string): boolean {
  const l = leaf(run, step);
  const st = stepOf(run, step);
  if (l.kind !== 'saga' || run.state.status !== 'running' || st.status !== 'running') return false;
  // The child may have done work: `unknown`, so the compensation asks it to undo (a running child is cancelled).
  failStep(run, l, `child saga ${l.saga} ${st.awaiting ?? ''} did not end within ${l.timeout ?? 0} ms`, 'timed_out', 'unknown');
  return true;
}

/** Asks the step's child to undo its work: the compensation of a `saga` step. */
export function compensateChild(run: Run, step: string): void {
  const childId = stepOf(run, step).commands.at(-1);
  // Stryker disable next-line ConditionalExpression: a saga step is queued for compensation only once its child started
  if (childId === undefined) throw new Error(`step ${step} started no child`);
  emit(run, { type: 'ChildCompensationRequested', at: run.env.now, step, childId });
  effect(run, { type: 'CompensateChild', step, childId });
}

/** The parent's side: the child of `input.step` ended; its outcome is the step's (or its compensation's). */
export function onChildEnded(run: Run, input: Extract<SagaInput, { type: 'ChildEnded' }>): Handled {
  const l = findLeaf(run.def, input.step);
  if (l?.kind !== 'saga') return { handled: false, why: 'unmatched' };
  const st = stepOf(run, l.name);
  const comp = st.compensation;
  if (!st.commands.includes(input.childId)) return { handled: false, why: 'unmatched' };
  const why = input.reason === null ? '' : `: ${input.reason}`;
  if (run.state.status === 'running' && st.status === 'running' && st.awaiting === input.childId) {
    if (l.timeout !== null) cancelTimer(run, { kind: 'child_timeout', step: l.name });
    if (input.outcome === 'completed') {
      emit(run, { type: 'StepSucceeded', at: run.env.now, step: l.name, replyId: input.childId, output: input.output, pivot: false });
      advance(run);
    } else {
      // A compensated child undid its own work; a failed one waits for its own operator; one that never started did nothing.
      const ended = input.outcome === 'not_started' ? 'could not start' : `ended ${input.outcome}`;
      failStep(run, l, `child saga ${l.saga} ${input.childId} ${ended}${why}`, 'failed', 'not_done');
    }
    return yes;
  }
  if (run.state.status === 'compensating' && comp?.status === 'running' && comp.awaiting === input.childId) {
    if (input.outcome === 'compensated') stepCompensated(run, l.name, input.childId);
    // A child that never started did nothing: nothing to undo.
    else if (input.outcome === 'not_started') stepCompensated(run, l.name, null);
    else if (input.outcome === 'failed') compensationFailed(run, l.name, `child saga ${l.saga} ${input.childId} could not be compensated${why}`);
    else return { handled: false, why: 'stale' };
    return yes;
  }
  // The step was given up (a sibling failed as it started) and waits in the compensation
  // queue; its child, asked to start in the same decision, could not: it leaves the queue,
  // compensated with nothing to undo, and the compensation in flight goes on.
  if (input.outcome === 'not_started' && run.state.status === 'compensating' && (comp === null || comp.status === 'pending')
    && run.state.compensation.queue.includes(l.name) && st.commands.at(-1) === input.childId) {
    emit(run, { type: 'StepCompensated', at: run.env.now, step: l.name, replyId: null });
    return yes;
  }
  if (input.outcome === 'completed') {
    return lateSuccess(run, l.name, input.childId, input.output) ? yes : { handled: false, why: st.status === 'succeeded' ? 'duplicate' : 'late' };
  }
  return { handled: false, why: 'late' };
}

/** The child's side: its parent compensates, so it undoes what it did (cancelled if running, compensated if completed). */
export function onParentCompensates(run: Run, parentId: string): Handled {
  const s = run.state;
  if (s.parent?.id !== parentId) return { handled: false, why: 'unmatched' };
  const reason = { kind: 'cancelled' as const, step: null, message: `its parent ${s.parent.saga} ${parentId} compensates` };
  switch (s.status) {
    case 'running':
    case 'completed':
      // The loader lets only a child without a pivot be compensated: past a pivot nothing is undone.
      if (isPastPivot(run)) return { handled: false, why: 'stale' };
      beginCompensation(run, reason);
      return yes;
    case 'failed':
      if (s.compensation === null) return { handled: false, why: 'stale' };
      emit(run, { type: 'CompensationResumed', at: run.env.now, reason: reason.message });
      continueCompensation(run);
      return yes;
    case 'compensating':
      // It tells its parent when it ends.
      return { handled: false, why: 'duplicate' };
    case 'compensated':
      // Undone already, but the parent asks again (its operator retried after it had been told
      // of a failure): nothing is left to undo, and saying so again is the answer it waits for.
      emit(run, { type: 'CompensationResumed', at: run.env.now, reason: `${reason.message} again; nothing is left to undo` });
      continueCompensation(run);
      return yes;
  }
}

/** Pure: the parent's input for a child that has just ended, from the child's final state. */
export function childEnded(s: InstanceState, outcome: ChildOutcome, reason: string | null): Extract<SagaInput, { type: 'ChildEnded' }> | null {
  if (s.parent === undefined) return null;
  const steps: Record<string, unknown> = {};
  for (const [name, st] of Object.entries(s.steps)) if (st.status === 'succeeded') steps[name] = st.output;
  return { type: 'ChildEnded', step: s.parent.step, childId: s.id, outcome, output: { id: s.id, saga: s.saga, steps }, reason };
}
