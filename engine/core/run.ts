import { findLeaf, leafSteps, type CompiledSaga, type LeafStep, type MessageSpec } from './definition.js';
import type { Effect, LifecycleType } from './effects.js';
import type { SagaEvent } from './events.js';
import { evolve } from './evolve.js';
import { childEnded } from './child.js';
import { timerId, type Env, type TimerRef } from './inputs.js';
import { emptyStep, ownStep, type InstanceState, type StepState } from './state.js';
import { elementLeaf } from './for-each.js';
import { renderTemplate, scopeFor } from './template.js';

/**
 * One decision in progress: events are applied with `evolve` as they are emitted, so every
 * later rule reads the state the journal will rebuild.
 */
export interface Run {
  readonly def: CompiledSaga;
  readonly env: Env;
  state: InstanceState;
  readonly events: SagaEvent[];
  readonly effects: Effect[];
  /** eventId of the message being handled: the causationId of what it makes us send. */
  readonly causationId: string;
}

export function emit(run: Run, event: SagaEvent): void {
  run.events.push(event);
  run.state = evolve(run.state, event);
}

export function effect(run: Run, e: Effect): void {
  run.effects.push(e);
}

/**
 * Whether the instance is past its pivot: the pivot succeeded, or its `when` skipped it. An
 * instance journaled before a skipped pivot was recorded as passed has only the skip in its
 * state, so that counts too.
 */
export function isPastPivot(run: Run): boolean {
  if (run.state.pastPivot) return true;
  const pivot = leafSteps(run.def).find((l) => l.kind === 'command' && l.pivot);
  return pivot !== undefined && ownStep(run.state.steps, pivot.name)?.status === 'skipped';
}

export function stepOf(run: Run, name: string): StepState {
  return ownStep(run.state.steps, name) ?? emptyStep;
}

export function leaf(run: Run, name: string): LeafStep {
  const l = findLeaf(run.def, name) ?? elementLeaf(run.def, name);
  // Stryker disable next-line StringLiteral: step names come from the definition the instance is pinned to; an invariant, not a path
  if (l === undefined) throw new Error(`saga ${run.def.name} has no step ${name}`);
  return l;
}

export function schedule(run: Run, timer: TimerRef, dueAt: number): void {
  effect(run, { type: 'ScheduleTimer', timerId: timerId(timer), dueAt, timer });
}

export function cancelTimer(run: Run, timer: TimerRef): void {
  effect(run, { type: 'CancelTimer', timerId: timerId(timer) });
}

export function lifecycle(run: Run, eventType: LifecycleType, reason?: string): void {
  const s = run.state;
  effect(run, {
    type: 'PublishLifecycle', eventId: run.env.newId(), eventType, timestamp: run.env.now,
    payload: { id: s.id, saga: s.saga, key: s.key, state: s.status, ...(reason === undefined ? {} : { reason }) },
  });
  // A child's end is its parent step's outcome: delivered in the same write (child.ts).
  const outcome = eventType === 'SagaCompleted' ? 'completed' : eventType === 'SagaCompensated' ? 'compensated' : eventType === 'SagaFailed' ? 'failed' : null;
  const input = outcome === null ? null : childEnded(s, outcome, reason ?? null);
  if (input !== null && s.parent !== undefined) effect(run, { type: 'NotifyParent', parentId: s.parent.id, input });
}

export type Rendered = { ok: true; payload: unknown } | { ok: false; error: string };

/** Renders and validates an outgoing payload for `step` (whose scope it sees); errors come back as data. */
export function renderMessage(run: Run, spec: MessageSpec, step?: string): Rendered {
  const r = renderTemplate(spec.payload, scopeFor(run.state, step ?? ''));
  if (!r.ok) return { ok: false, error: r.error };
  const schemaKey = `${spec.type}@${spec.version}`;
  const validate = Object.hasOwn(run.def.schemas, schemaKey) ? run.def.schemas[schemaKey] : undefined;
  const problem = validate === undefined ? null : validate(r.value);
  if (problem !== null) return { ok: false, error: `${spec.type}@${spec.version} payload does not match its schema: ${problem}` };
  return { ok: true, payload: r.value };
}

/** Emits a SendCommand effect for a rendered message and returns its fresh id. */
export function sendCommand(run: Run, o: {
  spec: MessageSpec; payload: unknown; step: string; attempt: number; undo: boolean; deadlineAt: number;
}): string {
  const s = run.state;
  const eventId = run.env.newId();
  effect(run, {
    type: 'SendCommand',
    step: o.step,
    side: o.undo ? 'undo' : 'do',
    command: {
      eventId, subject: o.spec.subject, eventType: o.spec.type, version: o.spec.version,
      aggregateId: s.key ?? s.id, correlationId: s.correlationId, causationId: run.causationId,
      timestamp: run.env.now, payload: o.payload, deadlineAt: o.deadlineAt,
      headers: {
        'Saga-Id': s.id, 'Saga-Name': s.saga, 'Saga-Step': o.step, 'Saga-Attempt': String(o.attempt),
        'Idempotency-Key': `${s.id}/${o.step}/${o.undo ? 'undo' : 'do'}`,
      },
    },
  });
  return eventId;
}

/** Cancels the timer an active step has armed: its attempt timeout, its retry, its wait, its delay or its child's timeout. */
export function cancelStepTimers(run: Run, step: string, attempt: number): void {
  const st = stepOf(run, step);
  if (st.status === 'retrying') cancelTimer(run, { kind: 'retry', step, attempt });
  if (st.status !== 'running') return;
  const kind = findLeaf(run.def, step)?.kind;
  if (kind === 'delay' || kind === 'saga') {
    cancelTimer(run, { kind: kind === 'delay' ? 'delay' : 'child_timeout', step });
    return;
  }
  if (st.commands.length > 0) cancelTimer(run, { kind: 'attempt_timeout', step, attempt });
  else cancelTimer(run, { kind: 'wait_timeout', step });
}
