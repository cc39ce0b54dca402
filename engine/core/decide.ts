import { assertNever } from './assert-never.js';
import { compensationAttemptFailed, continueCompensation, beginCompensation, dispatchCompensation, lateSuccess, stepCompensated } from './compensation.js';
import { findLeaf, type CommandStep, type CompiledSaga, type LeafStep, type ReplySpec } from './definition.js';
import type { Effect } from './effects.js';
import type { SagaEvent } from './events.js';
import { advance, attemptFailed, dispatch, failStep, resendInFlight } from './forward.js';
import type { Env, IncomingMessage, SagaInput, StartRequest, TimerRef } from './inputs.js';
import { evolve } from './evolve.js';
import { childTimedOut, onChildEnded, onParentCompensates } from './child.js';
import { delayElapsed } from './delay.js';
import { elementLeaf, forEachStage } from './for-each.js';
import { cancelStepTimers, cancelTimer, emit, isPastPivot, leaf, lifecycle, schedule, stepOf, type Run } from './run.js';
import type { InstanceState } from './state.js';
import { evaluate, scopeOf, truthy } from './template.js';

/** Why an input changed nothing: reported to the shell for metrics and logs. */
export type Ignored = 'unmatched' | 'match_failed' | 'duplicate' | 'stale' | 'late' | 'unexpected_type' | 'late_after_window';

/** A wait step's `match` that failed on an event (an error, or a limit that stopped it): the event did not match. */
export interface MatchFailure {
  readonly step: string;
  readonly error: string;
}

export interface Decision {
  readonly state: InstanceState;
  readonly events: readonly SagaEvent[];
  readonly effects: readonly Effect[];
  /** Set when the input changed nothing; `events` and `effects` are then empty. */
  readonly ignored: Ignored | null;
  /** With `ignored: 'match_failed'`: the first wait whose `match` failed on the event, and why. */
  readonly matchFailure?: MatchFailure;
}

/** Why an operator's request does not fit the instance's state. */
export type RejectionCode = 'SAGA_ERR_INVALID_STATE' | 'SAGA_ERR_PAST_PIVOT';

export interface Rejection {
  readonly rejected: { readonly code: RejectionCode; readonly message: string };
}

/** Pure: the events and effects that start a new instance, and its state. */
export function start(def: CompiledSaga, req: StartRequest, env: Env): Decision {
  const deadlineAt = def.timeout === null ? null : env.now + def.timeout;
  const first: SagaEvent = {
    type: 'SagaStarted', at: env.now, instanceId: req.id, saga: def.name, definitionHash: def.hash, key: req.key,
    correlationId: req.correlationId, input: req.input, event: req.event, deadlineAt,
    ...(req.trace === undefined ? {} : { trace: req.trace }),
    ...(req.parent === undefined ? {} : { parent: req.parent }),
  };
  const run = newRun(def, env, undefined, req.causationId, first);
  lifecycle(run, 'SagaStarted');
  if (deadlineAt !== null) schedule(run, { kind: 'deadline' }, deadlineAt);
  advance(run);
  return result(run);
}

/** Pure: the business key of a start, from `start.key`, or null; an error comes back as data. */
export function startKey(def: CompiledSaga, input: unknown, event: unknown, id: string, correlationId: string): { ok: true; key: string | null } | { ok: false; error: string } {
  if (def.start.key === null) return { ok: true, key: null };
  const r = evaluate(def.start.key, { input, steps: {}, saga: { id, key: null, name: def.name, correlationId }, event });
  if (!r.ok) return { ok: false, error: r.error };
  if (r.value === undefined || r.value === null) return { ok: false, error: `start.key ${def.start.key.source} gave no value for this input` };
  return { ok: true, key: typeof r.value === 'string' ? r.value : JSON.stringify(r.value) };
}

/**
 * Pure: decides what one input does to an instance. Duplicate, stale and late inputs change
 * nothing (`ignored` says why); operator requests that do not fit the state are rejected.
 */
export function decide(def: CompiledSaga, state: InstanceState, input: SagaInput, env: Env): Decision | Rejection {
  switch (input.type) {
    case 'ReplyReceived':
      return settle(onReply(newRun(def, env, state, input.message.eventId), input.message, input.lateWindowMs ?? null));
    case 'EventReceived': {
      const h = onEvent(newRun(def, env, state, input.message.eventId), input.subject, input.message);
      const d = settle(h);
      return h.matchFailure === undefined ? d : { ...d, matchFailure: h.matchFailure };
    }
    case 'TimerFired':
      return settle(onTimer(newRun(def, env, state, `timer:${state.id}`), input.timer));
    case 'CancelRequested':
      return onCancel(newRun(def, env, state, `cancel:${state.id}`), input.reason, input.by);
    case 'RetryRequested':
      return onRetry(newRun(def, env, state, `retry:${state.id}`), operator(input.by, input.reason));
    case 'ChildEnded': {
      const run = newRun(def, env, state, `child:${input.childId}`);
      const h = onChildEnded(run, input);
      return settle({ run, ignored: h.why });
    }
    case 'ParentCompensates': {
      const run = newRun(def, env, state, `parent:${input.parentId}`);
      const h = onParentCompensates(run, input.parentId);
      return settle({ run, ignored: h.why });
    }
    // Stryker disable next-line ConditionalExpression: exhaustive switch, checked by the compiler
    default:
      return assertNever(input);
  }
}

function newRun(def: CompiledSaga, env: Env, state: InstanceState | undefined, causationId: string, first?: SagaEvent): Run {
  // Stryker disable next-line StringLiteral: an invariant of this file's callers, not a path
  if (state === undefined && first === undefined) throw new Error('a run needs a state or a first event');
  const run = { def, env, state: state as InstanceState, events: [] as SagaEvent[], effects: [] as Effect[], causationId };
  if (first !== undefined) {
    run.events.push(first);
    run.state = evolve(undefined, first);
  }
  return run;
}

function result(run: Run, ignored: Ignored | null = null): Decision {
  // Stryker disable next-line StringLiteral: every path without events names its reason; the fallback is never read
  return { state: run.state, events: run.events, effects: run.effects, ignored: run.events.length === 0 ? (ignored ?? 'stale') : null };
}

function settle(outcome: { run: Run; ignored: Ignored | null }): Decision {
  return result(outcome.run, outcome.ignored);
}

type Handled = { run: Run; ignored: Ignored | null };
const done = (run: Run): Handled => ({ run, ignored: null });
const skip = (run: Run, ignored: Ignored): Handled => ({ run, ignored });

function classify(reply: ReplySpec, type: string): 'success' | 'failure' | 'retryable' | null {
  if (reply.success.includes(type)) return 'success';
  if (reply.failure.includes(type)) return 'failure';
  if (reply.retryable.includes(type)) return 'retryable';
  return null;
}

/**
 * Whether a message of `type` answers a command of the step: one of the types its reply
 * (`do`) or its compensation's reply (`undo`) lists. A message that names the command as its
 * cause and is none of them (a participant's follow-up event, `Settled` after `Charge`) is an
 * event like any other: a `wait` step or a trigger may take it. The subject is not checked:
 * a reply published on another subject sagad consumes is still taken, as it always was.
 */
export function repliesTo(def: CompiledSaga, step: string, kind: 'do' | 'undo', type: string): boolean {
  const l = findLeaf(def, step) ?? elementLeaf(def, step);
  const spec = kind === 'do' ? (l?.kind === 'command' ? l.reply : null) : (l?.compensate?.reply ?? null);
  return spec !== null && classify(spec, type) !== null;
}

function describeReply(m: IncomingMessage): string {
  const payload = JSON.stringify(m.payload);
  return `${m.eventType} ${payload === undefined ? '' : payload.length > 200 ? `${payload.slice(0, 200)}...` : payload}`.trim();
}

function onReply(run: Run, m: IncomingMessage, lateWindowMs: number | null): Handled {
  for (const [name, st] of Object.entries(run.state.steps)) {
    if (st.commands.includes(m.causationId)) return onDoReply(run, leaf(run, name) as CommandStep, m, lateWindowMs);
    if (st.compensation?.commands.includes(m.causationId)) return onUndoReply(run, name, m);
  }
  return skip(run, 'unmatched');
}

function onDoReply(run: Run, l: CommandStep, m: IncomingMessage, lateWindowMs: number | null): Handled {
  const kind = classify(l.reply, m.eventType);
  if (kind === null) return skip(run, 'unexpected_type');
  const st = stepOf(run, l.name);
  const active = run.state.status === 'running' && (st.status === 'running' || st.status === 'retrying');
  if (!active) {
    if (kind !== 'success') return skip(run, 'late');
    // A compensated instance ended at its last event; past the window it stays as it is.
    if (run.state.status === 'compensated' && lateWindowMs !== null && run.env.now - run.state.updatedAt > lateWindowMs) {
      return skip(run, 'late_after_window');
    }
    return lateSuccess(run, l.name, m.eventId, m.payload) ? done(run) : skip(run, st.status === 'succeeded' ? 'duplicate' : 'late');
  }
  if (kind === 'success') {
    cancelStepTimers(run, l.name, st.attempt);
    emit(run, { type: 'StepSucceeded', at: run.env.now, step: l.name, replyId: m.eventId, output: m.payload, pivot: l.pivot });
    advance(run);
    return done(run);
  }
  // Only the attempt in flight may fail the step: an old attempt's error is stale.
  if (m.causationId !== st.awaiting) return skip(run, 'stale');
  if (kind === 'failure' && !isPastPivot(run)) {
    // A business failure is the participant's answer for the whole step: nothing was done.
    failStep(run, l, `reply ${describeReply(m)}`, 'failed', 'not_done');
    return done(run);
  }
  attemptFailed(run, l, `reply ${describeReply(m)}`, false);
  return done(run);
}

function onUndoReply(run: Run, step: string, m: IncomingMessage): Handled {
  const spec = leaf(run, step).compensate;
  const comp = stepOf(run, step).compensation;
  // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: an undo command id is indexed only once its compensation exists, for a step with a compensate block
  if (spec === null || comp === null) return skip(run, 'unmatched');
  const kind = classify(spec.reply, m.eventType);
  if (kind === null) return skip(run, 'unexpected_type');
  // Stryker disable next-line ConditionalExpression: a compensation is running or retrying only while the instance is compensating
  const active = run.state.status === 'compensating' && (comp.status === 'running' || comp.status === 'retrying');
  if (!active) return skip(run, kind === 'success' && comp.status === 'compensated' ? 'duplicate' : 'late');
  if (kind === 'success') {
    stepCompensated(run, step, m.eventId);
    return done(run);
  }
  if (m.causationId !== comp.awaiting) return skip(run, 'stale');
  compensationAttemptFailed(run, step, `reply ${describeReply(m)}`);
  return done(run);
}

function onEvent(run: Run, subject: string, m: IncomingMessage): Handled & { matchFailure?: MatchFailure } {
  if (run.state.status !== 'running') return skip(run, 'late');
  let failure: MatchFailure | undefined;
  for (const [name, st] of Object.entries(run.state.steps)) {
    // A running forEach group is no leaf (its elements' steps are): it waits for no event.
    if (st.status !== 'running' || forEachStage(run.def, name)?.steps !== undefined) continue;
    const l = leaf(run, name);
    if (l.kind !== 'wait' || l.subject !== subject || l.type !== m.eventType) continue;
    const r = matches(run, l, m);
    if (r !== true) {
      if (r !== false) failure ??= { step: name, error: r.error };
      continue;
    }
    if (l.timeout !== null) cancelTimer(run, { kind: 'wait_timeout', step: name });
    emit(run, { type: 'StepSucceeded', at: run.env.now, step: name, replyId: m.eventId, output: m.payload, pivot: false });
    advance(run);
    return done(run);
  }
  return failure === undefined ? skip(run, 'unmatched') : { ...skip(run, 'match_failed'), matchFailure: failure };
}

/**
 * Whether the event is the wait's. A `match` that fails on it (an error, or a limit that
 * stopped it) cannot tell: the event is not taken, and the failure is returned to be reported.
 * It does not fail the step: any event of the type is offered to every wait with a `match`, so
 * one odd event would otherwise fail them all.
 */
function matches(run: Run, l: Extract<LeafStep, { kind: 'wait' }>, m: IncomingMessage): boolean | { error: string } {
  if (l.match === null) return m.correlationId === run.state.correlationId;
  const r = evaluate(l.match, scopeOf(run.state), m);
  return r.ok ? truthy(r.value) : { error: r.error };
}

function onTimer(run: Run, t: TimerRef): Handled {
  const s = run.state;
  switch (t.kind) {
    case 'deadline':
      // Once the pivot is sent its outcome decides; if it fails, the saga compensates then.
      if (s.status !== 'running' || isPastPivot(run) || pivotInFlight(run) !== null) return skip(run, 'stale');
      beginCompensation(run, { kind: 'deadline', step: null, message: 'the saga deadline passed' });
      return done(run);
    case 'attempt_timeout': {
      const st = stepOf(run, t.step);
      if (s.status !== 'running' || st.status !== 'running' || st.attempt !== t.attempt) return skip(run, 'stale');
      const l = leaf(run, t.step) as CommandStep;
      attemptFailed(run, l, `no reply within ${l.timeout} ms`, true);
      return done(run);
    }
    case 'retry': {
      const st = stepOf(run, t.step);
      if (s.status !== 'running' || st.status !== 'retrying' || st.attempt !== t.attempt) return skip(run, 'stale');
      dispatch(run, leaf(run, t.step) as CommandStep, t.attempt + 1);
      return done(run);
    }
    case 'wait_timeout': {
      const st = stepOf(run, t.step);
      if (s.status !== 'running' || st.status !== 'running') return skip(run, 'stale');
      const l = leaf(run, t.step);
      // Stryker disable next-line ConditionalExpression,StringLiteral: only a wait step arms a wait_timeout; the other branches only satisfy the types
      failStep(run, l, `no ${l.kind === 'wait' ? l.type : 'event'} within ${l.kind === 'wait' ? l.timeout : 0} ms`, 'timed_out');
      return done(run);
    }
    case 'delay':
      return delayElapsed(run, t.step) ? (advance(run), done(run)) : skip(run, 'stale');
    case 'child_timeout':
      return childTimedOut(run, t.step) ? done(run) : skip(run, 'stale');
    case 'comp_timeout':
    case 'comp_retry': {
      const comp = stepOf(run, t.step).compensation;
      const want = t.kind === 'comp_timeout' ? 'running' : 'retrying';
      if (s.status !== 'compensating' || s.compensation.queue[0] !== t.step || comp?.status !== want || comp.attempt !== t.attempt) return skip(run, 'stale');
      if (t.kind === 'comp_timeout') compensationAttemptFailed(run, t.step, `no reply within ${leaf(run, t.step).compensate?.timeout ?? 0} ms`);
      else dispatchCompensation(run, t.step, t.attempt + 1);
      return done(run);
    }
    // Stryker disable next-line ConditionalExpression: exhaustive switch, checked by the compiler
    default:
      return assertNever(t);
  }
}

/** Who asked for an operator's act and why, as optional journal fields (absent when unknown). */
function operator(by: string | undefined, reason: string | undefined): { by?: string; reason?: string } {
  return { ...(by === undefined ? {} : { by }), ...(reason === undefined || reason === '' ? {} : { reason }) };
}

function onCancel(run: Run, reason: string, by: string | undefined): Decision | Rejection {
  const s = run.state;
  if (s.status !== 'running') return reject('SAGA_ERR_INVALID_STATE', `instance ${s.id} is ${s.status}; only a running instance can be cancelled`);
  if (isPastPivot(run)) return reject('SAGA_ERR_PAST_PIVOT', `instance ${s.id} is past its pivot step; it can no longer be compensated and will run to completion`);
  const pivot = pivotInFlight(run);
  if (pivot !== null) return reject('SAGA_ERR_PAST_PIVOT', `instance ${s.id} has sent its pivot step ${pivot}; wait for its outcome: if it fails the saga compensates by itself`);
  beginCompensation(run, {
    kind: 'cancelled', step: null, message: reason === '' ? 'cancelled by an operator' : `cancelled: ${reason}`, ...operator(by, undefined),
  });
  return result(run);
}

function onRetry(run: Run, who: { by?: string; reason?: string }): Decision | Rejection {
  const s = run.state;
  if (s.status !== 'failed') return reject('SAGA_ERR_INVALID_STATE', `instance ${s.id} is ${s.status}; only a failed instance can be retried`);
  if (s.compensation === null) {
    emit(run, { type: 'ForwardResumed', at: run.env.now, step: s.failure.step, ...who });
    resendInFlight(run);
    advance(run);
  } else {
    emit(run, { type: 'CompensationResumed', at: run.env.now, ...who });
    continueCompensation(run);
  }
  return result(run);
}

/** The pivot step's name while its command is out (running or retrying), else null. */
function pivotInFlight(run: Run): string | null {
  for (const stage of run.def.stages) {
    if (stage.kind !== 'command' || !stage.pivot) continue;
    const st = stepOf(run, stage.name).status;
    return st === 'running' || st === 'retrying' ? stage.name : null;
  }
  return null;
}

function reject(code: RejectionCode, message: string): Rejection {
  return { rejected: { code, message } };
}

/** Type guard for decide's two outcomes. */
export function isRejection(d: Decision | Rejection): d is Rejection {
  return 'rejected' in d;
}
