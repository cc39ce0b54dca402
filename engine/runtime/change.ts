import { assertNever, leafSteps, type CompiledSaga, type Decision, type InstanceState } from '../core/index.js';
import type { InputWrite, InstanceChange, LinkEffect, TimerPut } from '../store/port.js';
import type { TraceCause, TraceNote } from '../tracing/spans.js';
import { outboxMessage } from './outgoing.js';

/**
 * The state each change of a traced instance was decided on: its spans need the attempts that
 * were in flight before (tracing/spans.ts), wherever the change was decided (an input, a link
 * in the same write, an early event's delivery). Kept beside the change rather than in it: the
 * store writes a change as it is. Untraced instances (tracing off) add nothing.
 */
const decidedOn = new WeakMap<InstanceChange, InstanceState>();

/**
 * The spans' view of a committed write: each change of a traced instance, with the state it was
 * decided on (none for an instance the write created), and the write's cause, which names the
 * one attempt or instance it concerns (a child's reply is no reply to its parent's step, and a
 * reply to one step is none to a saga step its write started and ended).
 */
export function traceNotes(w: InputWrite, cause: TraceCause): TraceNote[] {
  const notes: TraceNote[] = [];
  for (const c of w.changes) {
    if (c.state.trace !== undefined) notes.push({ before: decidedOn.get(c), after: c.state, events: c.events, cause });
  }
  return notes;
}

/** `merged`, decided on the state its first part `first` was (see {@link traceNotes}). */
export function decidedLike(merged: InstanceChange, first: InstanceChange): InstanceChange {
  const before = decidedOn.get(first);
  if (before !== undefined) decidedOn.set(merged, before);
  return merged;
}

/**
 * What one decision writes of its instance: journal events, the state, outbox rows (rendered
 * envelopes), timers, the command index and the wait rows. Null when the decision changed
 * nothing (an ignored input writes only its inbox id).
 */
export function changeOf(def: CompiledSaga, before: InstanceState | undefined, d: Decision): InstanceChange | null {
  if (d.events.length === 0) return null;
  const change = changeFields(def, before, d);
  if (before !== undefined && d.state.trace !== undefined) decidedOn.set(change, before);
  return change;
}

/** changeOf's change, as the store writes it. */
function changeFields(def: CompiledSaga, before: InstanceState | undefined, d: Decision): InstanceChange {
  const state = d.state;
  // Effects run in order: a timer cancelled after it was armed is not armed, one armed again after its cancel is.
  const put = new Map<string, TimerPut>();
  const cancel = new Set<string>();
  const commands: { commandId: string; step: string; kind: 'do' | 'undo' }[] = [];
  const outbox = [];
  const links: LinkEffect[] = [];
  for (const e of d.effects) {
    switch (e.type) {
      case 'SendCommand':
        commands.push({ commandId: e.command.eventId, step: e.step, kind: e.side });
        break;
      case 'ScheduleTimer':
        cancel.delete(e.timerId);
        put.set(e.timerId, { timerId: e.timerId, dueAt: e.dueAt, data: e.timer });
        break;
      case 'CancelTimer':
        put.delete(e.timerId);
        cancel.add(e.timerId);
        break;
      case 'PublishLifecycle':
        break;
      // Carried out by the engine in the same write (linked.ts): nothing of this instance to store.
      case 'StartChild':
      case 'CompensateChild':
      case 'HearChild':
      case 'NotifyParent':
        links.push(e);
        break;
      // Stryker disable next-line ConditionalExpression: unreachable, the switch covers every effect type (a compile error otherwise)
      default:
        assertNever(e);
    }
    const row = outboxMessage(e, state);
    if (row !== null) outbox.push(row);
  }
  return {
    expectedVersion: before?.version ?? 0,
    state,
    events: d.events,
    outbox,
    timers: { put: [...put.values()], cancel: [...cancel] },
    commands,
    waits: waitsOf(def, state, d),
    ...(links.length === 0 ? {} : { links }),
  };
}

/** The wait rows to keep equal to the wait steps now running, for the steps this decision touched. */
function waitsOf(def: CompiledSaga, state: InstanceState, d: Decision): InstanceChange['waits'] {
  // Stryker disable next-line ArrayDeclaration: a made-up name in the set touches no step (step names are validated)
  const touched = new Set(d.events.flatMap((e) => ('step' in e ? [e.step] : [])));
  // Every wait step is looked at when the instance stops running forward or resumes: a failed
  // instance's waits are removed, and an operator's retry that resumes it puts back those that run.
  const anyEnd = d.events.some((e) => e.type === 'CompensationStarted' || e.type === 'SagaFailed' || e.type === 'ForwardResumed');
  const put: { step: string; subject: string; type: string; correlationId: string | null }[] = [];
  const remove: string[] = [];
  for (const l of leafSteps(def)) {
    if (l.kind !== 'wait' || (!touched.has(l.name) && !anyEnd)) continue;
    // Stryker disable next-line OptionalChaining: with the instance running, a wait step touched has a state, and anyEnd leaves it not running
    const waiting = state.status === 'running' && state.steps[l.name]?.status === 'running';
    // A wait without `match` takes only events of its instance's correlation id (core's
    // decide): the store finds it by that id, and not for every event of the type.
    if (waiting) put.push({ step: l.name, subject: l.subject, type: l.type, correlationId: l.match === null ? state.correlationId : null });
    else remove.push(l.name);
  }
  return { put, remove };
}

/** The earliest due time of the timers a change arms, or null. */
export function earliestTimer(changes: readonly InstanceChange[]): number | null {
  let earliest: number | null = null;
  for (const c of changes) for (const t of c.timers.put) earliest = earliest === null ? t.dueAt : Math.min(earliest, t.dueAt);
  return earliest;
}
