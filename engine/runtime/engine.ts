import {
  decide, isRejection, start as startInstance, startKey, type CompiledSaga, type Decision, type Env, type InstanceState, type SagaInput,
} from '../core/index.js';
import { SagaError } from '../errors.js';
import type { DeadLetter, Store } from '../store/index.js';
import type { LogFn } from '../transport/connection.js';
import { uuidv7 } from '../transport/envelope.js';
import { writeDecision, type Committed } from './commit.js';
import { GroupCommit } from '../store/group-commit.js';
import { Metrics } from './metrics.js';
import type { EnginePort, EngineStats, Readiness, StartCommand, StartOutcome } from './port.js';
import type { Registry } from './registry.js';

/** What the engine needs from the world besides its store: time, publishing, NATS state. */
export interface EngineDeps {
  readonly store: Store;
  readonly registry: Registry;
  readonly log: LogFn;
  /** Called after each commit with what every decision in it armed (earliest timer) and queued (outbox rows). */
  readonly onCommitted?: (c: Committed) => void;
  /** Publishes raw bytes (a redriven dead letter); resolves once JetStream acknowledged. */
  readonly republish?: (subject: string, data: Uint8Array, headers: Record<string, string>, msgId: string) => Promise<void>;
  readonly readiness?: () => Readiness;
  readonly lag?: () => number;
}

/** Production Env: wall-clock time, UUIDv7 ids, Math.random jitter. */
export const systemEnv = (): Env => ({ now: Date.now(), newId: () => uuidv7(), random: Math.random });

/**
 * The imperative shell around the pure core: each input is one SQLite transaction (inbox,
 * journal, instance row, outbox, timers), decided by the core and committed atomically.
 * Everything here is synchronous, so inputs never interleave.
 */
export class Engine implements EnginePort {
  readonly counters = new Metrics();
  draining = false;

  constructor(readonly deps: EngineDeps) {
    for (const saga of deps.registry.all()) deps.store.rememberDefinition(saga.hash, saga.name, saga.source);
  }

  /** Definition of an instance, by its pinned hash; a bug-level error if it is missing. */
  defOf(state: InstanceState): CompiledSaga {
    const def = this.deps.registry.byDefinitionHash(state.definitionHash);
    if (def === undefined) throw new SagaError('SAGA_ERR_DEFINITION_MISSING', `instance ${state.id} runs definition ${state.definitionHash} of ${state.saga}, which is neither loaded nor stored`);
    return def;
  }

  /** Applies a decision inside the current transaction; what it armed is reported after the commit. */
  apply(def: CompiledSaga, before: InstanceState | undefined, d: Decision): void {
    const c = writeDecision(this.deps.store, def, before, d);
    if (d.ignored !== null) this.counters.inc('sagad_inputs_ignored_total', 'Inputs that changed nothing, by reason.', { reason: d.ignored });
    for (const e of d.events) {
      if (e.type === 'SagaCompleted' || e.type === 'SagaCompensated' || e.type === 'SagaFailed') {
        this.counters.inc('sagad_instances_finished_total', 'Instances that reached an end state, by saga and state.', { saga: def.name, state: d.state.status });
      }
    }
    this.pending.push(c);
  }

  private pending: Committed[] = [];
  private readonly commits = new GroupCommit((fn) => this.deps.store.tx(fn), () => {
    const cs = this.pending;
    this.pending = [];
    for (const c of cs) this.deps.onCommitted?.(c);
  }, 512, () => {
    // The whole shared transaction rolled back: nothing it queued may reach the relay.
    this.pending = [];
  });

  /**
   * Runs `fn` in its own savepoint of the next shared transaction (group commit); resolves
   * after the commit, once the timer service and relay were told what it armed. When `fn`
   * throws, its savepoint rolls back, and so does what it queued for them.
   */
  inTx<T>(fn: () => T): Promise<T> {
    return this.commits.run(() => {
      const mark = this.pending.length;
      try {
        return fn();
      } catch (err) {
        this.pending.length = mark;
        throw err;
      }
    });
  }

  /** Resolves once every input queued so far is committed: a drain waits for it before the last flush. */
  settled(): Promise<void> {
    return this.commits.settled();
  }

  /** Feeds one input to an instance inside the current transaction; rejections throw. */
  feed(id: string, input: SagaInput): InstanceState {
    const state = this.deps.store.getInstance(id);
    if (state === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no instance ${id}`);
    const def = this.defOf(state);
    const d = decide(def, state, input, systemEnv());
    if (isRejection(d)) throw new SagaError(d.rejected.code, d.rejected.message);
    this.apply(def, state, d);
    return d.state;
  }

  /** Starts (or finds) an instance inside the current transaction. */
  startInTx(cmd: StartCommand & { event?: unknown; causationId?: string }): StartOutcome {
    const store = this.deps.store;
    const def = this.deps.registry.current(cmd.saga);
    if (def === undefined) throw new SagaError('SAGA_ERR_UNKNOWN_SAGA', `no saga named ${cmd.saga} is loaded (loaded: ${this.deps.registry.all().map((s) => s.name).join(', ') || 'none'})`);
    if (cmd.id !== undefined) {
      const existing = store.getInstance(cmd.id);
      if (existing !== undefined) {
        if (existing.saga !== cmd.saga) throw new SagaError('SAGA_ERR_INVALID_STATE', `instance ${cmd.id} already exists for saga ${existing.saga}`);
        return { created: false, state: existing };
      }
    }
    const id = cmd.id ?? uuidv7();
    const correlationId = cmd.correlationId ?? id;
    const event = cmd.event ?? null;
    let key = cmd.key ?? null;
    if (key === null) {
      const k = startKey(def, cmd.input, event, id, correlationId);
      if (!k.ok) throw new SagaError('SAGA_ERR_INVALID_INPUT', `cannot compute the key of ${def.name}: ${k.error}`);
      key = k.key;
    }
    if (key !== null) {
      const existing = store.findByKey(def.name, key);
      if (existing !== undefined) return { created: false, state: existing };
    }
    if (def.start.on !== null) {
      const validate = def.schemas[`${def.start.on.type}@1`];
      const problem = validate?.(cmd.input) ?? null;
      if (problem !== null) throw new SagaError('SAGA_ERR_INVALID_INPUT', `input does not match the ${def.start.on.type}@1 schema: ${problem}`);
    }
    const d = startInstance(def, { id, input: cmd.input, key, correlationId, event, causationId: cmd.causationId ?? id }, systemEnv());
    this.apply(def, undefined, d);
    this.counters.inc('sagad_instances_started_total', 'Instances started, by saga.', { saga: def.name });
    return { created: true, state: d.state };
  }

  private assertAccepting(): void {
    if (this.draining) throw new SagaError('SAGA_ERR_NOT_READY', 'sagad is shutting down and takes no new work');
  }

  async start(cmd: StartCommand): Promise<StartOutcome> {
    this.assertAccepting();
    return this.inTx(() => this.startInTx(cmd));
  }

  async cancel(id: string, reason: string): Promise<InstanceState> {
    this.assertAccepting();
    return this.inTx(() => this.feed(id, { type: 'CancelRequested', reason }));
  }

  async retry(id: string): Promise<InstanceState> {
    this.assertAccepting();
    return this.inTx(() => this.feed(id, { type: 'RetryRequested' }));
  }

  /** Fires up to one batch of due timers, each its own input; resolves with how many, once committed. */
  async fireDue(now: number): Promise<number> {
    const rows = this.deps.store.dueTimers(now, 200);
    await Promise.all(rows.map(async (row) => {
      await this.inTx(() => {
        this.deps.store.deleteTimer(row.instanceId, row.timerId);
        if (this.deps.store.getInstance(row.instanceId) === undefined) return;
        this.feed(row.instanceId, { type: 'TimerFired', timer: row.data });
      });
      this.counters.timerLag(Math.max(0, Date.now() - row.dueAt));
      this.counters.inc('sagad_timers_fired_total', 'Durable timers fired.', { kind: row.data.kind });
    }));
    return rows.length;
  }

  getInstance(id: string) { return this.deps.store.getInstance(id); }
  timersOf(id: string) { return this.deps.store.timersOf(id); }
  listInstances(filter: Parameters<Store['listInstances']>[0] & object) { return this.deps.store.listInstances(filter); }
  history(id: string) { return this.deps.store.getInstance(id) === undefined ? undefined : this.deps.store.history(id); }
  definitionByHash(hash: string) { return this.deps.registry.byDefinitionHash(hash); }
  definitions() { return this.deps.registry.all(); }
  listDeadLetters(opts: { limit?: number; cursor?: string }) { return this.deps.store.listDead(opts); }
  getDeadLetter(id: string) { return this.deps.store.getDead(id); }
  deleteDeadLetter(id: string) { return this.deps.store.deleteDead(id); }

  async redriveDeadLetter(id: string): Promise<DeadLetter> {
    const letter = this.deps.store.getDead(id);
    if (letter === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no dead letter ${id}`);
    if (this.deps.republish === undefined) throw new SagaError('SAGA_ERR_NOT_READY', 'not connected to NATS');
    // A fresh Nats-Msg-Id, or JetStream would drop the redrive as a duplicate of the original.
    await this.deps.republish(letter.subject, letter.data, { ...letter.headers }, `redrive-${id}-${Date.now()}`);
    this.deps.store.markRedriven(id, Date.now());
    const after = this.deps.store.getDead(id);
    if (after === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no dead letter ${id}`);
    return after;
  }

  readiness(): Readiness {
    const base = this.deps.readiness?.() ?? { ready: true, checks: {} };
    const checks = { ...base.checks, accepting: this.draining ? { ok: false, detail: 'draining for shutdown' } : { ok: true } };
    return { ready: base.ready && !this.draining, checks };
  }

  async metrics(): Promise<string> {
    const g = await this.deps.store.gauges();
    return this.counters.render([
      { name: 'sagad_instances', help: 'Instances in the database, by saga and state.', samples: g.instances.map((r) => ({ labels: { saga: r.saga, state: r.status }, value: r.count })) },
      { name: 'sagad_timers_pending', help: 'Durable timers not yet fired.', samples: [{ labels: {}, value: g.timersPending }] },
      { name: 'sagad_outbox_backlog', help: 'Outgoing messages not yet acknowledged by JetStream.', samples: [{ labels: {}, value: g.outboxBacklog }] },
      { name: 'sagad_dead_letters', help: 'Dead letters not redriven.', samples: [{ labels: {}, value: g.deadLetters }] },
      { name: 'sagad_consumer_lag', help: 'Messages on subscribed subjects not yet processed.', samples: [{ labels: {}, value: this.deps.lag?.() ?? 0 }] },
    ]);
  }

  async stats(): Promise<EngineStats> {
    const g = await this.deps.store.gauges();
    return {
      instances: g.instances.map((r) => ({ saga: r.saga, state: r.status, count: r.count })),
      timersPending: g.timersPending, outboxBacklog: g.outboxBacklog, deadLetters: g.deadLetters, consumerLag: this.deps.lag?.() ?? 0,
    };
  }
}
