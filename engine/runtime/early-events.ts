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
 */

/** How long an early event is kept by default (`SAGA_EARLY_EVENT_TTL`): an hour. */
export const DEFAULT_EARLY_EVENT_TTL_MS = 3_600_000;

/** Early events one instance keeps at most: a bound on what a flood of unrelated events can pile up. */
export const MAX_EARLY_EVENTS_PER_INSTANCE = 100;

/** Pure: whether a running instance has a wait step on `subject`/`type` that has not started yet. */
export function awaitsLater(def: CompiledSaga, state: InstanceState, subject: string, type: string): boolean {
  if (state.status !== 'running') return false;
  return leafSteps(def).some((l) => l.kind === 'wait' && l.subject === subject && l.type === type
    && (state.steps[l.name]?.status ?? 'pending') === 'pending');
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
