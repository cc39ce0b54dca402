import { leafSteps, type CompiledSaga, type InstanceState } from '../core/index.js';
import type { EarlyEvent } from '../store/early-events.js';
import { parseEnvelope } from '../transport/envelope.js';
import type { Incoming } from './engine.js';

/*
 * Events that arrive before the `wait` step that awaits them has started (issue 12). Such an
 * event finds its instance by the rule of a wait without `match`: its `correlationId` is the
 * instance's. Every running instance with that correlation id whose definition has a wait on
 * the event's subject and type that has not started yet keeps it (at most
 * {@link MAX_EARLY_EVENTS_PER_INSTANCE}, for `SAGA_EARLY_EVENT_TTL`). When a wait step of the
 * instance on that subject and type starts, each kept event is fed to it as an ordinary
 * `EventReceived` input, oldest first, so the core decides it as any other event (its `match`
 * expression included); one the wait does not take stays kept for a later wait. An event
 * still kept when it expires is dead-lettered with the reason.
 *
 * The same keeps an event for a `failed` instance whose wait step on it runs (a wait past the
 * pivot, beside the step that failed): the instance takes no event while failed, and an
 * operator's retry (`ForwardResumed`) offers it what it kept, as a wait's start does.
 */

/** How long an early event is kept by default (`SAGA_EARLY_EVENT_TTL`): an hour. */
export const DEFAULT_EARLY_EVENT_TTL_MS = 3_600_000;

/** Early events one instance keeps at most: a bound on what a flood of unrelated events can pile up. */
export const MAX_EARLY_EVENTS_PER_INSTANCE = 100;

/**
 * Pure: whether an instance cannot take an event on `subject`/`type` now but a wait step of it
 * will: a running instance's wait step that has not started yet, or a `failed` instance's wait
 * step that runs (past the pivot, beside the step that failed): an operator's retry resumes it.
 */
export function awaitsLater(def: CompiledSaga, state: InstanceState, subject: string, type: string): boolean {
  if (state.status !== 'running' && state.status !== 'failed') return false;
  const waiting = state.status === 'running' ? 'pending' : 'running';
  return leafSteps(def).some((l) => l.kind === 'wait' && l.subject === subject && l.type === type
    && (state.steps[l.name]?.status ?? 'pending') === waiting);
}

/** Pure: how many wait steps on `subject`/`type` a running instance runs now. */
export function runningWaits(def: CompiledSaga, state: InstanceState, subject: string, type: string): number {
  if (state.status !== 'running') return 0;
  return leafSteps(def).filter((l) => l.kind === 'wait' && l.subject === subject && l.type === type && state.steps[l.name]?.status === 'running').length;
}

/** Pure: whether a running instance has a wait step on `subject`/`type` that waits now. */
export function awaitsNow(def: CompiledSaga, state: InstanceState, subject: string, type: string): boolean {
  if (state.status !== 'running') return false;
  return leafSteps(def).some((l) => l.kind === 'wait' && l.subject === subject && l.type === type && state.steps[l.name]?.status === 'running');
}

/** The kept message as the engine reads an incoming one, or null when its bytes are no envelope (never kept so). */
export function incomingOf(e: EarlyEvent): Incoming | null {
  const parsed = parseEnvelope(e.data);
  if (!parsed.ok) return null;
  const env = parsed.envelope;
  return {
    subject: e.subject, eventId: env.eventId, eventType: env.eventType, correlationId: env.correlationId, causationId: env.causationId ?? '',
    aggregateId: env.aggregateId, version: env.version, payload: env.payload, envelope: env,
  };
}

/** The message id under which an early event's delivery to one instance is written: once per instance and event. */
export function deliveryId(instanceId: string, eventId: string): string {
  return `early/${instanceId}/${eventId}`;
}
