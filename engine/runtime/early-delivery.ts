import { decide, isRejection, type CompiledSaga, type Env, type InstanceState } from '../core/index.js';
import type { LogFn } from '../log.js';
import type { DeadLetterReason, Metrics } from '../metrics/registry.js';
import type { DeadLetterCap } from '../store/dlq.js';
import type { EarlyEvent, EarlyEventKey } from '../store/early-events.js';
import type { InputWrite, StorePort } from '../store/port.js';
import { changeOf } from './change.js';
import { trimDeadLetters } from './dead-letter-trim.js';
import { awaitsLater, awaitsNow, DEFAULT_EARLY_EVENT_TTL_MS, deliveryId, incomingOf, MAX_EARLY_EVENTS_PER_INSTANCE, runningWaits } from './early-events.js';
import type { Incoming } from './engine.js';
import { schemaProblem } from './message-schema.js';
import { kindOf, LOG_INTERVAL_MS, matchFailed, throttledLog } from './log-throttle.js';
import type { Registry } from './registry.js';
import type { StoredWaits } from './stored-waits.js';

/** What early delivery borrows from the engine: its store, its definitions, and its way of running and writing an input. */
export interface EarlyDeliveryDeps {
  readonly store: StorePort;
  readonly registry: Registry;
  /**
   * PostgreSQL: the waits of the stored definitions that may still take an event, those other
   * replicas loaded included (stored-waits.ts); absent with SQLite, whose one process loads every definition with a wait.
   */
  readonly storedWaits?: Pick<StoredWaits, 'awaits'> | undefined;
  readonly log: LogFn;
  readonly counters: Metrics;
  /** How long an early event is kept (SAGA_EARLY_EVENT_TTL); default an hour. */
  readonly ttlMs: number | undefined;
  /** The dead-letter queue's cap (SAGA_DLQ_MAX, SAGA_DLQ_MAX_BYTES): a parked copy trims it as the inbound park does. */
  readonly dlqCap: DeadLetterCap;
  readonly env: () => Env;
  readonly defOf: (state: InstanceState) => Promise<CompiledSaga>;
  /** Runs `fn` as an input of the engine (counted in flight, retried on a lost race) holding the locks of `ids`. */
  readonly locked: <T>(ids: readonly string[], fn: () => Promise<T>) => Promise<T>;
  /** Writes one input as the engine writes every input; resolves false for a duplicate. */
  readonly write: (input: InputWrite) => Promise<boolean>;
}

/**
 * The engine's side of events that arrive before the `wait` step that awaits them has started
 * (early-events.ts has the rule): keeping them with the instances that may still await them,
 * delivering them when such a wait starts, and the sweep that offers them again and
 * dead-letters the expired. Nothing kept is lost: a failed offer is made again by the sweep.
 */
export class EarlyDelivery {
  /** The sweep's failures, a line per kind every LOG_INTERVAL_MS: it meets the same failure every few seconds. */
  private readonly warn: ReturnType<typeof throttledLog>;
  /**
   * Where the next sweep goes on through the deliverable kept events (null: from the start).
   * An event the wait it could go to does not take (its `match` is false) stays deliverable
   * until it expires, and is offered at every pass; paging past such events, the sweep reaches
   * every deliverable event within a few rounds however many there are, instead of meeting the
   * same first page at every round while a missed delivery behind it waits for its TTL. Kept in
   * memory: a restart, or another replica, begins from the start, which only offers again.
   */
  private cursor: EarlyEventKey | null = null;

  constructor(private readonly deps: EarlyDeliveryDeps) {
    this.warn = throttledLog(deps.log, LOG_INTERVAL_MS);
  }

  private get ttlMs(): number {
    return this.deps.ttlMs ?? DEFAULT_EARLY_EVENT_TTL_MS;
  }

  /**
   * Instances that may await `m` later: those of its correlation id that run (a wait step not
   * yet started) or are failed (a wait step in flight that an operator's retry resumes).
   */
  async candidates(m: Incoming): Promise<string[]> {
    // Only for a subject and type some definition waits for: a loaded one, or with PostgreSQL
    // a stored one that may still take an event (stored-waits.ts), so that a replica still on an older file (a rolling deploy that adds a
    // wait on a subject it consumes for something else) keeps the event for another replica's
    // instance instead of acking it as unrelated. Both answers come from memory: asking the
    // store for every event with a correlation id cost a quarter of the throughput at c100 (two
    // queries per trigger). The stored waits lag a definition's first store by up to a refresh
    // interval (a second): an early event pulled by this replica within that window is lost.
    const { registry, storedWaits } = this.deps;
    if (m.correlationId === '' || !(registry.awaits(m.subject, m.eventType) || storedWaits?.awaits(m.subject, m.eventType) === true)) return [];
    const ids: string[] = [];
    for (const status of ['running', 'failed'] as const) {
      // Every page: an instance past the first hundred of its correlation id awaits the event as well.
      for (let cursor: string | null = null; ;) {
        const page = await this.deps.store.listInstances({ correlationId: m.correlationId, status, limit: 500, cursor });
        ids.push(...page.items.map((i) => i.id));
        cursor = page.nextCursor;
        if (cursor === null) break;
      }
    }
    return ids;
  }

  /**
   * Sorts the instances of `ids` (locked by the caller) that may want `m`: `started` are those
   * that, not among `waitingBefore` (the waiters the caller read before it held the locks), now
   * run wait steps for it (`waits` of them): a wait started in between, and takes the event now
   * (kept, it would never be offered to a wait that already runs); `keepers` those that still
   * have a wait step for it to come.
   */
  async sort(m: Incoming, ids: readonly string[], waitingBefore: ReadonlySet<string>): Promise<{ started: { id: string; waits: number }[]; keepers: string[] }> {
    const started: { id: string; waits: number }[] = [];
    const keepers: string[] = [];
    for (const id of ids) {
      const state = await this.deps.store.getInstance(id);
      if (state === undefined) continue;
      const def = await this.deps.defOf(state);
      const waits = waitingBefore.has(id) ? 0 : runningWaits(def, state, m.subject, m.eventType);
      if (waits > 0) started.push({ id, waits });
      if (awaitsLater(def, state, m.subject, m.eventType)) keepers.push(id);
    }
    return { started, keepers };
  }

  /**
   * Keeps `m` for each of `ids` (locked by the caller, sorted as `keepers`); `handled` when any
   * keeps it or dead-letters its copy, and `kept` how many keep it, which the caller counts once
   * the message's own write committed: a keep is committed on its own, and a retried input (a
   * lost race) or a redelivery keeps it again, each time reported `kept`. An instance that keeps
   * its maximum already refuses it: its copy is dead-lettered rather than lost, and the message
   * goes on to the others (the waiters that take it now, the other keepers, the sagas it
   * starts), as it would without that instance.
   */
  async keep(m: Incoming, ids: readonly string[]): Promise<{ handled: boolean; kept: number }> {
    const now = this.deps.env().now;
    const raw = m.raw ?? { data: new TextEncoder().encode(JSON.stringify(m.envelope)), headers: {} };
    let handled = false;
    let kept = 0;
    for (const id of ids) {
      const outcome = await this.deps.store.keepEarlyEvent({
        instanceId: id, eventId: m.eventId, subject: m.subject, type: m.eventType, keptAt: now,
        expiresAt: now + this.ttlMs, headers: raw.headers, data: raw.data,
      }, MAX_EARLY_EVENTS_PER_INSTANCE);
      // Applied before (a redelivery whose ack was lost): its write will say duplicate, and a
      // later wait step must not take it a second time.
      if (outcome === 'processed') return { handled, kept };
      handled = true;
      if (outcome === 'kept') {
        kept++;
        continue;
      }
      // Committed on its own, before the message's write, as a keep is; parked once per instance
      // and event, so the redelivery of a message whose write failed parks nothing more.
      const parked = await this.deps.store.park({
        subject: m.subject, headers: raw.headers, data: raw.data, deliveryCount: 1, at: Date.now(),
        reason: `${m.eventType} arrived before the wait step of instance ${id} started, and the instance already keeps ${MAX_EARLY_EVENTS_PER_INSTANCE} such events`,
      }, `dead-letter/${deliveryId(id, m.eventId)}`);
      if (parked !== null) await this.parked('early_full');
    }
    return { handled, kept };
  }

  /** Offers the instance's kept early events to the wait steps it now runs, as an input of its own. */
  offer(id: string): void {
    void this.deps.locked([id], () => this.deliver(id)).catch((err: unknown) => {
      // Not lost: the periodic sweep (settle) offers it again.
      this.deps.log('warn', 'offering early events failed; the sweep tries again', { instance: id, error: err instanceof Error ? err.message : String(err) });
    });
  }

  /** Feeds each kept event the instance now waits for as an ordinary EventReceived input, oldest first; the caller holds the lock. */
  private async deliver(id: string): Promise<void> {
    const { store } = this.deps;
    for (const e of await store.earlyEventsOf(id)) {
      // Expired: the sweep dead-letters it (it may have read it already); taken too, it would be both.
      if (e.expiresAt <= this.deps.env().now) continue;
      const state = await store.getInstance(id);
      if (state === undefined || state.status !== 'running') return;
      const def = await this.deps.defOf(state);
      if (!awaitsNow(def, state, e.subject, e.type)) continue;
      const m = incomingOf(e);
      if (m === null) {
        await store.dropEarlyEvent(id, e.eventId);
        continue;
      }
      // Decided without counting an ignored offer: the sweep offers a kept event again every few seconds.
      const d = decide(def, state, { type: 'EventReceived', subject: e.subject, message: m }, this.deps.env());
      if (!isRejection(d) && d.matchFailure !== undefined) matchFailed(this.warn, state, m, d.matchFailure);
      const c = isRejection(d) ? null : changeOf(def, state, d);
      // Not taken (its match is false): kept for a later wait step, or until it expires.
      if (c === null) continue;
      const problem = schemaProblem(def, m.eventType, m.version, m.payload);
      if (problem !== null) {
        await this.park(e, problem, 'invalid_message');
        continue;
      }
      // Written once per instance and event: a crash before the drop makes the next offer a duplicate.
      const delivered = await this.deps.write({ messageId: deliveryId(id, e.eventId), firedTimer: null, changes: [c] });
      await store.dropEarlyEvent(id, e.eventId);
      // A duplicate (delivered before a crash, the drop not yet done) was counted then.
      if (delivered) this.deps.counters.earlyEvents.inc({ outcome: 'delivered' });
    }
  }

  /**
   * Dead-letters a kept early event once (by its delivery to the instance) as it forgets it, in
   * one transaction; nothing when it is gone (delivered, or parked, since the caller read it).
   */
  private async park(e: EarlyEvent, reason: string, kind: DeadLetterReason): Promise<void> {
    const letter = { subject: e.subject, reason, headers: e.headers, data: e.data, deliveryCount: 1, at: Date.now() };
    if (await this.deps.store.parkEarlyEvent(e.instanceId, e.eventId, letter, `dead-letter/${deliveryId(e.instanceId, e.eventId)}`)) await this.parked(kind);
  }

  /**
   * A copy of an early event newly parked: an early event dead-lettered, and a dead letter like
   * any other (the DLQ alert counts these), which keeps the queue under its cap as the inbound
   * park does. The letter is safe: a trim that fails is told, and tried again after the next park.
   */
  private async parked(kind: DeadLetterReason): Promise<void> {
    this.deps.counters.earlyEvents.inc({ outcome: 'dead_lettered' });
    this.deps.counters.deadLettered.inc({ reason: kind });
    try {
      await trimDeadLetters(this.deps.store, this.deps.dlqCap, this.deps.counters, this.warn);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.warn('error', 'could not trim the dead-letter queue', kindOf(error), { error });
    }
  }

  /**
   * The sweep of kept early events, run every few seconds: offers again those whose instance
   * now waits for them (a delivery lost to a crash or a race), and dead-letters the expired.
   * One instance whose delivery fails (logged, tried again at the next sweep) does not hold
   * up the others. Resolves with how many events it handled.
   */
  async settle(now: number, limit: number): Promise<number> {
    const { deliverable, expired } = await this.deps.store.earlyEventsDue(now, limit, this.cursor);
    // A short page was the last: the next sweep starts again from the first.
    const last = deliverable.at(-1);
    this.cursor = deliverable.length < limit || last === undefined ? null : { keptAt: last.keptAt, instanceId: last.instanceId, eventId: last.eventId };
    let handled = 0;
    const attempt = async (id: string, what: string, fn: () => Promise<void>, events: number): Promise<void> => {
      try {
        await this.deps.locked([id], fn);
        handled += events;
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        this.warn('warn', `${what} failed; the next sweep tries again`, kindOf(error), { instance: id, error });
      }
    };
    for (const id of new Set(deliverable.map((e) => e.instanceId))) {
      await attempt(id, 'offering kept early events', () => this.deliver(id), deliverable.filter((e) => e.instanceId === id).length);
    }
    for (const e of expired) {
      await attempt(e.instanceId, 'dead-lettering an expired early event', () => this.park(e,
        `${e.type} arrived before a wait step of instance ${e.instanceId} awaited it, and no wait step took it within SAGA_EARLY_EVENT_TTL (${this.ttlMs} ms)`, 'early_expired'), 1);
    }
    return handled;
  }
}
