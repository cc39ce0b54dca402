import { leafSteps, type CompiledSaga, type Decision, type InstanceState } from '../core/index.js';
import type { OutboxRow, Store } from '../store/index.js';
import { outboxMessage } from './outgoing.js';

/** What a committed decision asks of the timer service and the outbox relay. */
export interface Committed {
  /** Earliest due time of the timers it armed, or null. */
  readonly earliestTimer: number | null;
  /** The outbox rows it added, in seq order: the relay publishes them without reading them back. */
  readonly outbox: readonly OutboxRow[];
}

/**
 * Writes one decision: journal events, the instance row, outbox rows, timers, the command
 * index and wait rows. Must run inside `store.tx` together with the inbox entry, so that an
 * input is either fully applied or not at all (DESIGN section 1, points 4 and 5).
 */
export function writeDecision(store: Store, def: CompiledSaga, before: InstanceState | undefined, d: Decision): Committed {
  if (d.events.length === 0) return { earliestTimer: null, outbox: [] };
  const state = d.state;
  store.append(state.id, before?.version ?? 0, d.events);
  store.saveInstance(state);
  let earliestTimer: number | null = null;
  const outbox = [];
  for (const e of d.effects) {
    switch (e.type) {
      case 'SendCommand':
        store.indexCommand(e.command.eventId, state.id, e.command.headers['Saga-Step'], e.command.headers['Idempotency-Key'].endsWith('/undo') ? 'undo' : 'do');
        break;
      case 'ScheduleTimer':
        store.putTimer(state.id, e.timerId, e.dueAt, e.timer);
        earliestTimer = earliestTimer === null ? e.dueAt : Math.min(earliestTimer, e.dueAt);
        break;
      case 'CancelTimer':
        store.deleteTimer(state.id, e.timerId);
        break;
      case 'PublishLifecycle':
        break;
    }
    const row = outboxMessage(e, state);
    if (row !== null) outbox.push(row);
  }
  const added = outbox.length > 0 ? store.enqueue(outbox, Date.now()) : [];
  syncWaits(store, def, state, d);
  return { earliestTimer, outbox: added };
}

/** Keeps the wait rows equal to the wait steps now running, for the steps this decision touched. */
function syncWaits(store: Store, def: CompiledSaga, state: InstanceState, d: Decision): void {
  const touched = new Set(d.events.flatMap((e) => ('step' in e ? [e.step] : [])));
  const anyEnd = d.events.some((e) => e.type === 'CompensationStarted' || e.type === 'SagaFailed');
  for (const l of leafSteps(def)) {
    if (l.kind !== 'wait' || (!touched.has(l.name) && !anyEnd)) continue;
    const waiting = state.status === 'running' && state.steps[l.name]?.status === 'running';
    if (waiting) store.addWait(l.subject, l.type, state.id, l.name);
    else store.removeWait(state.id, l.name);
  }
}
