import {
  decide, isRejection, repliesTo, type CompiledSaga, type Decision, type Env, type Ignored, type IncomingMessage, type InstanceState, type SagaInput,
} from '../core/index.js';
import { putChange, withLinks, type LinkDeps } from './linked.js';
import { SagaError } from '../errors.js';
import { fault } from '../fault.js';
import type { DeadLetter, DeadLetterCap, DeadListOptions, InstanceFilter, OutboxRow, TimerRow } from '../store/index.js';
import { defaultDlqCap } from '../store/dlq.js';
import type { InstanceChange, InputWrite, StorePort } from '../store/port.js';
import type { LogFn } from '../log.js';
import { uuidv7 } from '../ids.js';
import { changeOf, earliestTimer, traceNotes } from './change.js';
import { EarlyDelivery } from './early-delivery.js';
import { KeyedLock } from './keyed-lock.js';
import { LOG_INTERVAL_MS, matchFailed, throttledLog } from './log-throttle.js';
import { PinnedDefinitions } from './pinned-definitions.js';
import { parentCarrier, planStart, type NewStart, type PlannedStart, type StartRequest } from './start-plan.js';
import { Metrics } from '../metrics/registry.js';
import { observeChange } from '../metrics/observe-change.js';
import { schemaProblem } from './message-schema.js';
import type { EnginePort, EngineStats, OperatorAct, Readiness, StartCommand, StartOutcome } from './port.js';
import { rebuildPage, type RebuildPage, type RebuildRequest } from './rebuild.js';
import { redriveOnce } from './redrive.js';
import type { Registry } from './registry.js';
import type { TraceCarrier } from '../tracing/context.js';
import type { SagaTracing, TraceCause } from '../tracing/spans.js';

/** What the engine needs besides its store: definitions, the relay and timers to tell, NATS state. */
export interface EngineDeps {
  readonly store: StorePort;
  readonly registry: Registry;
  /** PostgreSQL: the waits of the stored definitions, for early events (stored-waits.ts); absent with SQLite. */
  readonly storedWaits?: { awaits(subject: string, type: string): boolean } | undefined;
  readonly log: LogFn;
  /** Takes the outbox rows of each commit, in seq order, to publish them. */
  readonly relay?: { push(rows: readonly OutboxRow[]): void };
  /** Told the earliest timer each commit armed. */
  readonly timers?: { poke(dueAt: number): void };
  /** Publishes raw bytes (a redriven dead letter); resolves once JetStream acknowledged. */
  readonly republish?: (subject: string, data: Uint8Array, headers: Record<string, string>, msgId: string) => Promise<void>;
  readonly readiness?: () => Readiness;
  readonly lag?: () => number;
  /** Where the engine's metrics go; main.ts passes the one the store and the API record into too. */
  readonly metrics?: Metrics;
  /** Time, ids and jitter; the system's by default. */
  readonly env?: () => Env;
  /** Set only when tracing is configured: without it no input does any tracing work. */
  readonly tracing?: SagaTracing | undefined;
  /** How long an event that arrived before its wait step started is kept (SAGA_EARLY_EVENT_TTL); default an hour. */
  readonly earlyEventTtlMs?: number;
  /** The dead-letter queue's cap (SAGA_DLQ_MAX, SAGA_DLQ_MAX_BYTES), kept by an early event's parked copy; the inbound default when absent. */
  readonly dlqCap?: DeadLetterCap;
  /** How long (ms) after a compensated instance ended a late success may reopen it; null or absent: always. */
  readonly lateWindowMs?: number | null;
  /**
   * Told of a definition compiled again from the store for an instance, after start-up: its
   * subjects may have no stream or consumer yet (a completed child saga, not pinned at start,
   * that its parent now compensates); resolves once they do, before any of its commands goes out.
   */
  readonly onPinned?: (saga: CompiledSaga) => Promise<void>;
}

/** An incoming envelope, as the engine reads it. */
export interface Incoming extends IncomingMessage {
  /** The subject it arrived on. */
  readonly subject: string;
  /** The whole envelope, kept as a triggered instance's `$event`. */
  readonly envelope: unknown;
  /** Its `traceparent`/`tracestate` headers: a trigger continues the sender's trace, a reply is linked. */
  readonly trace?: TraceCarrier;
  /** The message as it arrived, kept with an early event (so that its dead letter can be redriven). */
  readonly raw?: { readonly data: Uint8Array; readonly headers: Readonly<Record<string, string>> };
}

/** What a message turned out to be; `early`: kept for instances whose wait for it has not started. */
export type Received = 'reply' | 'event' | 'trigger' | 'early' | 'unrelated' | 'duplicate';

/** Production Env: wall-clock time, UUIDv7 ids, Math.random jitter. */
export const systemEnv = (): Env => ({ now: Date.now(), newId: () => uuidv7(), random: Math.random });

/** How often an input is decided again after losing a race to another replica. */
const MAX_CONFLICTS = 20;

/** The cause of a change no message or timer brought: an operator's act, a start, a link, an early event's delivery. */
const NO_CAUSE: TraceCause = { kind: 'other' };

/** Thrown inside a retried input when the store refused its write as a lost race. */
class Conflict extends Error {}

/**
 * What one attempt at an input counts once its write committed, and only then: an attempt that
 * lost a race is decided again and a write that failed is tried again, and either would count
 * the same input twice. `kept`: how many instances keep the message as an early event.
 */
interface Tally {
  readonly ignored: Ignored[];
  kept: number;
}

const newTally = (): Tally => ({ ignored: [], kept: 0 });

/**
 * The imperative shell around the pure core: each input (a message, a timer, an operator's
 * act, a start) reads what it concerns, is decided by the core, and is written through the
 * store port as one atomic write. Inputs for one instance run one at a time in this process;
 * a write that lost a race with another replica is read and decided again.
 */
export class Engine implements EnginePort {
  readonly counters: Metrics;
  draining = false;
  private readonly lock = new KeyedLock();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly env: () => Env;
  private readonly early: EarlyDelivery;
  private readonly throttled: ReturnType<typeof throttledLog>;
  private readonly pinned: PinnedDefinitions;

  constructor(readonly deps: EngineDeps) {
    this.env = deps.env ?? systemEnv;
    this.counters = deps.metrics ?? new Metrics();
    this.throttled = throttledLog(deps.log, LOG_INTERVAL_MS);
    this.pinned = new PinnedDefinitions(deps);
    this.early = new EarlyDelivery({
      store: deps.store, registry: deps.registry, storedWaits: deps.storedWaits, log: deps.log, counters: this.counters, ttlMs: deps.earlyEventTtlMs,
      dlqCap: deps.dlqCap ?? defaultDlqCap, env: this.env,
      defOf: (state) => this.defOf(state),
      locked: (ids, fn) => this.input(() => this.lock.run(ids, fn)),
      write: (w) => this.write(w),
    });
  }

  /** Stores the source of every loaded definition, so instances keep theirs across file changes. */
  rememberDefinitions(): Promise<void> {
    return this.pinned.remember();
  }

  /** Brings back, before the consumers start, every definition an instance that may still take an input runs (pinned-definitions.ts). */
  pinDefinitionsInUse(): Promise<void> {
    return this.pinned.pinInUse();
  }

  /** The definition an instance runs, by its pinned hash; recompiled from the store when not loaded (DESIGN section 1, point 7). */
  defOf(state: InstanceState): Promise<CompiledSaga> {
    return this.pinned.of(state);
  }

  /** What linked changes (child sagas, linked.ts) read and decide with. */
  private readonly links: LinkDeps = {
    getInstance: (id) => this.deps.store.getInstance(id),
    defOf: (state) => this.defOf(state),
    // A child continues its parent's trace: its saga span is a child of the parent's.
    planChild: async (cmd) => this.planStart({ ...cmd, trace: await parentCarrier(this.deps, cmd.parent) }),
    decide: (def, state, input) => decide(def, state, input, this.env()),
  };

  /** Resolves once every input in hand has been written (or failed): a drain waits for it. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.deps.store.settled();
  }

  /** Runs an input, counted in flight, and decides it again while it loses races. */
  private input<T>(fn: () => Promise<T>): Promise<T> {
    const p = (async () => {
      for (let n = 1; ; n++) {
        try {
          return await fn();
        } catch (err) {
          if (!(err instanceof Conflict)) throw err;
          if (n >= MAX_CONFLICTS) throw new SagaError('SAGA_ERR_VERSION_CONFLICT', `gave up after ${n} races with other writers of the same instance`);
          this.counters.writeConflicts.inc();
        }
      }
    })();
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  /**
   * Writes one input; resolves true when committed, false for a duplicate; a lost race throws
   * Conflict. Every change it commits is traced here, whichever path decided it (`cause` names
   * the attempt a reply answered or the instance a timer fired for: only that attempt's span
   * takes it, not one its links ended in the same write), and what its decisions tallied is
   * counted here, once committed.
   */
  private async write(input: InputWrite, cause: TraceCause = NO_CAUSE, tally: Tally = newTally()): Promise<boolean> {
    const w = await withLinks(input, this.links);
    const r = await this.deps.store.commit(w);
    if (r.status === 'conflict') throw new Conflict(r.instanceId);
    if (r.status === 'duplicate') return false;
    for (const reason of tally.ignored) this.counters.inputsIgnored.inc({ reason });
    if (tally.kept > 0) this.counters.earlyEvents.inc({ outcome: 'kept' }, tally.kept);
    if (this.deps.tracing !== undefined) this.deps.tracing.record(traceNotes(w, cause));
    if (r.outbox.length > 0) {
      fault('after-commit-before-publish');
      this.deps.relay?.push(r.outbox);
    }
    const due = earliestTimer(w.changes);
    if (due !== null) this.deps.timers?.poke(due);
    // A wait that starts, or one resumed by an operator's retry, may have kept events to take.
    for (const c of w.changes) if (c.waits.put.length > 0 || c.events.some((e) => e.type === 'ForwardResumed')) this.early.offer(c.state.id);
    for (const c of w.changes) {
      if (c.expectedVersion === 0 && c.state.parent !== undefined) this.counters.instancesStarted.inc({ saga: c.state.saga });
      observeChange(this.counters, c);
      if (c.state.status === 'failed') {
        for (const e of c.events) {
          if (e.type === 'SagaFailed') this.deps.log('warn', 'instance failed; it waits for an operator\'s retry', { instance: c.state.id, saga: c.state.saga, step: e.step, error: e.error });
        }
      }
    }
    return true;
  }

  /** Decides one input for a known instance, an ignored one tallied; operator refusals throw with the core's code. */
  private async decideFor(state: InstanceState, input: SagaInput, tally: Tally): Promise<{ def: CompiledSaga; d: Decision }> {
    const def = await this.defOf(state);
    const d = decide(def, state, input, this.env());
    if (isRejection(d)) throw new SagaError(d.rejected.code, d.rejected.message);
    if (d.ignored !== null) tally.ignored.push(d.ignored);
    return { def, d };
  }

  /**
   * How a message is ordered against the triggers received before it on its subject (the
   * inbound handler keeps the order). `trigger`: it starts sagas, and messages after it may
   * wait for it. `follows`: it may be an event a wait step awaits, which must not be read
   * before the instance a trigger ahead of it starts is committed (a message can be both: an
   * OrderPaid that starts an invoice saga and that an order's wait step awaits). Replies and
   * events no wait step awaits do neither. PostgreSQL replicas may not have loaded every
   * definition a wait step runs under: there every message that is not a trigger follows.
   */
  ordering(subject: string, eventType: string): { readonly trigger: boolean; readonly follows: boolean } {
    const { store, registry } = this.deps;
    const trigger = registry.triggeredBy(subject, eventType).length > 0;
    return { trigger, follows: registry.awaits(subject, eventType) || (store.kind !== 'sqlite' && !trigger) };
  }

  /**
   * Handles one message from a subscribed subject: a reply to a command, an event a `wait`
   * step awaits, or a trigger that starts sagas. Resolves once its effects are durable, with
   * what it was; throws SAGA_ERR_INVALID_MESSAGE / SAGA_ERR_INVALID_INPUT for a message that can
   * never be processed, anything else for one worth delivering again.
   */
  receive(m: Incoming): Promise<Received> {
    const { store, registry } = this.deps;
    return this.input(async () => {
      const named = m.causationId === '' ? undefined : await store.replyTarget(m.causationId);
      // A message that names a command as its cause is its reply only when it is one of the
      // types that command awaits; otherwise it is an event.
      const target = named !== undefined && repliesTo(await this.defOf(named.state), named.step, named.kind, m.eventType) ? named : undefined;
      // Only an instance whose definition has a wait step for the event can be waiting for it.
      // One process (SQLite) has every such definition in its registry; a replica may not have
      // loaded one that another replica started instances with, so it always asks the store
      // about an event. A reply is an event too, for the wait steps of other instances: asked
      // about only when a loaded or stored definition awaits it, so that a reply costs no
      // lookup in the common case. Its own instance takes it as the reply, once.
      const awaited = registry.awaits(m.subject, m.eventType) || this.deps.storedWaits?.awaits(m.subject, m.eventType) === true;
      const mayWait = target === undefined ? store.kind !== 'sqlite' || awaited : awaited;
      const waiters = mayWait ? (await store.waiting(m.subject, m.eventType, m.correlationId)).filter((w) => w.instanceId !== target?.instanceId) : [];
      const triggered = registry.triggeredBy(m.subject, m.eventType);
      const early = (await this.early.candidates(m)).filter((id) => id !== target?.instanceId);
      if (target === undefined && waiters.length === 0 && triggered.length === 0 && early.length === 0) return 'unrelated';
      const ids = [...new Set([...(target === undefined ? [] : [target.instanceId]), ...waiters.map((w) => w.instanceId), ...early])];
      return this.lock.run(ids, async (waited): Promise<Received> => {
        const changes: InstanceChange[] = [];
        const tally = newTally();
        let outcome: Received = 'unrelated';
        // The state a reply moved, when it moved one: what a duplicate is checked against.
        let moved: InstanceState | undefined;
        if (target !== undefined) {
          const state = waited ? await store.getInstance(target.instanceId) : target.state;
          if (state !== undefined) {
            // DESIGN section 3: the correlation id is copied onto every command and expected back on its reply.
            if (m.correlationId !== state.correlationId) {
              throw new SagaError('SAGA_ERR_CORRELATION_MISMATCH',
                `reply ${m.eventType} to command ${m.causationId} carries correlationId ${JSON.stringify(m.correlationId)}, but the command was sent with ${JSON.stringify(state.correlationId)}`);
            }
            const def = await this.defOf(state);
            const problem = schemaProblem(def, m.eventType, m.version, m.payload);
            if (problem !== null) throw new SagaError('SAGA_ERR_INVALID_MESSAGE', problem);
            const { d } = await this.decideFor(state, { type: 'ReplyReceived', message: m, lateWindowMs: this.deps.lateWindowMs ?? null }, tally);
            if (d.ignored === 'late_after_window') {
              // Final without a write (the message is parked as a late reply): counted here, as it always was.
              this.counters.inputsIgnored.inc({ reason: d.ignored });
              throw new SagaError('SAGA_ERR_LATE_REPLY',
                `success ${m.eventType} for step of instance ${state.id} arrived more than ${this.deps.lateWindowMs ?? 0} ms (SAGA_LATE_SUCCESS_WINDOW) after the instance was compensated; the instance stays compensated and the step is not compensated`);
            }
            const c = changeOf(def, state, d);
            if (c !== null) {
              changes.push(c);
              moved = state;
            }
            outcome = 'reply';
          }
        }
        // One instance may have several wait steps for the event: each is decided on the state the
        // previous left, and their changes are one (putChange): the store checks a change against
        // the version it read before the write.
        const latest = new Map<string, InstanceState>();
        const offer = async (instanceId: string): Promise<void> => {
          const state = latest.get(instanceId) ?? await store.getInstance(instanceId);
          if (state === undefined) return;
          const { def, d } = await this.decideFor(state, { type: 'EventReceived', subject: m.subject, message: m }, tally);
          if (d.matchFailure !== undefined) matchFailed(this.throttled, state, m, d.matchFailure);
          const c = changeOf(def, state, d);
          if (c === null) return;
          // Judged only by the sagas it would move: another saga's schemas say nothing about it.
          const problem = schemaProblem(def, m.eventType, m.version, m.payload);
          if (problem !== null) {
            // A reply its own step took is not dead-lettered for another saga's schema: that wait
            // goes without it, and the log says so.
            if (target === undefined) throw new SagaError('SAGA_ERR_INVALID_MESSAGE', problem);
            this.throttled('warn', 'a reply was not given to a wait step whose schema refuses it', `${m.subject} ${m.eventType} ${state.saga}`, {
              instance: state.id, saga: state.saga, subject: m.subject, eventType: m.eventType, eventId: m.eventId, reply: target.instanceId, error: problem,
            });
            return;
          }
          putChange(changes, c);
          latest.set(instanceId, d.state);
          if (outcome !== 'reply') outcome = 'event';
        };
        for (const w of waiters) await offer(w.instanceId);
        const { started: late, keepers } = await this.early.sort(m, early.filter((id) => !latest.has(id)), new Set(waiters.map((w) => w.instanceId)));
        // A wait step that started after the waiters were read (another input held the lock) takes the event now.
        for (const { id, waits } of late) for (let i = 0; i < waits; i++) await offer(id);
        // Kept before the message's own write: a crash in between keeps it, and the redelivery finds it kept.
        const kept = await this.early.keep(m, keepers.filter((id) => !latest.has(id)));
        if (kept.handled) outcome = outcome === 'unrelated' ? 'early' : outcome;
        tally.kept = kept.kept;
        const started: NewStart[] = [];
        for (const def of triggered) {
          const s = await this.planStart({
            saga: def.name, input: m.payload, correlationId: m.correlationId === '' ? undefined : m.correlationId,
            event: m.envelope, causationId: m.eventId, trace: m.trace, version: m.version,
          });
          if (s.change !== null) {
            changes.push(s.change);
            started.push(s);
          }
          outcome = 'trigger';
        }
        // A reply proves its command delivered: the store need not name it as unsent (issue 9).
        const answers = target === undefined ? undefined : [m.causationId];
        // Only a reply is linked; a trigger's or an event's sender answered no attempt.
        const cause: TraceCause = target === undefined ? NO_CAUSE
          : { kind: 'reply', instanceId: target.instanceId, step: target.step, side: target.kind, carrier: m.trace ?? {} };
        if (!(await this.write({ messageId: m.eventId, firedTimer: null, changes, ...(answers === undefined ? {} : { answers }) }, cause, tally))) {
          if (moved !== undefined && target !== undefined) await this.reusedId(m, moved, target.step);
          return 'duplicate';
        }
        for (const s of started) this.counters.instancesStarted.inc({ saga: s.def.name });
        return outcome;
      });
    });
  }

  /** The early-event sweep (early-delivery.ts), run every few seconds; resolves with how many events it handled. */
  settleEarlyEvents(now: number, limit = 100): Promise<number> {
    return this.early.settle(now, limit);
  }

  /**
   * A reply that moved its step was refused as a duplicate: its eventId was processed before.
   * Had that been this reply (a redelivery), the step would have moved then, and the same
   * state would not be here to move again: when the instance is still at the version the
   * reply was decided on, another message used the eventId first. DESIGN section 3 asks for a
   * new id per message; a participant that derives ids (`reserved-<orderId>` for two sagas of
   * one order) loses replies this way, and its step waits and times out. Told, at most once per
   * subject and type in LOG_INTERVAL_MS; a race with another replica (the instance moved
   * meanwhile) is not. One case is told wrongly: the same reply first taken while its instance
   * was `failed` (ignored, its id kept), redelivered after an operator's retry (its ack lost).
   */
  private async reusedId(m: Incoming, decidedOn: InstanceState, step: string): Promise<void> {
    // Only a diagnosis: a read that fails leaves the duplicate acked, as it would be without it.
    const now = await this.deps.store.getInstance(decidedOn.id).catch(() => undefined);
    if (now === undefined || now.version !== decidedOn.version) return;
    this.throttled('warn', 'a reply was dropped as a duplicate: another message used its eventId first', `${m.subject} ${m.eventType}`, {
      instance: decidedOn.id, saga: decidedOn.saga, step, subject: m.subject, eventType: m.eventType, eventId: m.eventId, causationId: m.causationId,
      what: 'every message needs an eventId of its own (DESIGN section 3); the step goes on waiting for its reply, and times out without one',
    });
  }

  /** Finds the instance a start names (by id or key), or decides a new one without writing it (start-plan.ts). */
  private planStart(cmd: StartRequest): Promise<PlannedStart> {
    return planStart({ store: this.deps.store, registry: this.deps.registry, tracing: this.deps.tracing, env: this.env() }, cmd);
  }

  private assertAccepting(): void {
    if (this.draining) throw new SagaError('SAGA_ERR_NOT_READY', 'sagad is shutting down and takes no new work');
  }

  async start(cmd: StartCommand): Promise<StartOutcome> {
    this.assertAccepting();
    return this.input(async () => {
      const s = await this.planStart(cmd);
      if (s.change === null) return { created: false, state: s.state };
      const change = s.change;
      await this.lock.run([s.state.id], () => this.write({ messageId: null, firedTimer: null, changes: [change] }));
      this.counters.instancesStarted.inc({ saga: s.def.name });
      return { created: true, state: s.state };
    });
  }

  /** Feeds an operator's act to an instance: the instance after it, once durable. */
  private act(id: string, input: SagaInput): Promise<InstanceState> {
    this.assertAccepting();
    return this.input(() => this.lock.run([id], async () => {
      const state = await this.deps.store.getInstance(id);
      if (state === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no instance ${id}`);
      const tally = newTally();
      const { def, d } = await this.decideFor(state, input, tally);
      const c = changeOf(def, state, d);
      await this.write({ messageId: null, firedTimer: null, changes: c === null ? [] : [c] }, NO_CAUSE, tally);
      return d.state;
    }));
  }

  async cancel(id: string, reason: string, by?: string): Promise<InstanceState> {
    const state = await this.act(id, { type: 'CancelRequested', reason, ...(by === undefined ? {} : { by }) });
    this.deps.log('info', 'operator cancelled an instance', { action: 'cancel', instance: id, by: by ?? null, reason });
    return state;
  }

  async retry(id: string, act: OperatorAct = {}): Promise<InstanceState> {
    const state = await this.act(id, { type: 'RetryRequested', ...act });
    this.deps.log('info', 'operator retried an instance', { action: 'retry', instance: id, by: act.by ?? null, reason: act.reason ?? null });
    return state;
  }

  /** Fires one due timer as an input; a timer already fired (here or by another replica) changes nothing. */
  fire(row: TimerRow): Promise<void> {
    return this.input(() => this.lock.run([row.instanceId], async () => {
      const state = await this.deps.store.getInstance(row.instanceId);
      const tally = newTally();
      let change: InstanceChange | null = null;
      if (state !== undefined) {
        const { def, d } = await this.decideFor(state, { type: 'TimerFired', timer: row.data }, tally);
        change = changeOf(def, state, d);
      }
      const fired = await this.write({ messageId: null, firedTimer: { instanceId: row.instanceId, timerId: row.timerId, dueAt: row.dueAt }, changes: change === null ? [] : [change] }, { kind: 'timer', instanceId: row.instanceId, timer: row.data }, tally);
      if (!fired) return;
      this.counters.timerFired(row.data.kind, Math.max(0, Date.now() - row.dueAt));
    }));
  }

  /** Rebuilds instance rows from the journal (`sagactl admin rebuild`), each under its instance's lock. */
  rebuildInstances(req: RebuildRequest): Promise<RebuildPage> {
    return rebuildPage(this.deps.store, (id) => this.input(() => this.lock.run([id], () => this.deps.store.rebuildInstance(id))), req);
  }

  getInstance(id: string) { return this.deps.store.getInstance(id); }
  timersOf(id: string) { return this.deps.store.timersOf(id); }
  listInstances(filter: InstanceFilter) { return this.deps.store.listInstances(filter); }
  async history(id: string, after?: number) {
    const entries = await this.deps.store.history(id, after);
    if (entries.length > 0) return entries;
    return (await this.deps.store.getInstance(id)) === undefined ? undefined : entries;
  }

  definitionByHash(hash: string) { return this.deps.registry.byDefinitionHash(hash); }
  definitionsOf(name: string) { return this.deps.registry.versionsOf(name); }
  definitionVersions(saga: string) { return this.deps.store.definitionVersions(saga); }
  sagaDurations(since: number) { return this.deps.store.sagaDurations(since); }
  definitions() { return this.deps.registry.all(); }
  listDeadLetters(opts: DeadListOptions) { return this.deps.store.listDead(opts); }
  getDeadLetter(id: string) { return this.deps.store.getDead(id); }

  async deleteDeadLetter(id: string, act: OperatorAct = {}): Promise<boolean> {
    const gone = await this.deps.store.deleteDead(id);
    if (gone) this.deps.log('info', 'operator purged a dead letter', { action: 'purge', deadLetter: id, by: act.by ?? null, reason: act.reason ?? null });
    return gone;
  }

  /** Publishes a dead letter again, once (see {@link redriveOnce}); a second redrive is SAGA_ERR_ALREADY_REDRIVEN. */
  redriveDeadLetter(id: string, act: OperatorAct = {}): Promise<DeadLetter> {
    return redriveOnce(this.deps.store, this.deps.republish, this.deps.log, id, act);
  }

  readiness(): Readiness {
    const base = this.deps.readiness?.() ?? { ready: true, checks: {} };
    const checks = { ...base.checks, accepting: this.draining ? { ok: false, detail: 'draining for shutdown' } : { ok: true } };
    return { ready: base.ready && !this.draining, checks };
  }

  /** Prometheus text; a store that does not answer costs its gauges only (`sagad_store_up` 0), never the whole scrape. */
  async metrics(): Promise<string> {
    const consumerLag = this.deps.lag?.() ?? 0;
    const g = await this.deps.store.gauges().catch((err: unknown) => {
      if (this.counters.storeUp) this.deps.log('warn', 'metrics: the store did not answer; its gauges keep their last values and sagad_store_up is 0', { error: err instanceof Error ? err.message : String(err) });
      return null;
    });
    return this.counters.render(g === null ? { storeUp: false, consumerLag } : { ...g, consumerLag, now: Date.now() });
  }

  async stats(): Promise<EngineStats> {
    const g = await this.deps.store.gauges();
    return {
      instances: g.instances.map((r) => ({ saga: r.saga, state: r.status, count: r.count })),
      timersPending: g.timersPending, outboxBacklog: g.outboxBacklog, deadLetters: g.deadLetters, consumerLag: this.deps.lag?.() ?? 0,
    };
  }
}
