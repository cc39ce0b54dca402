/** A small EnginePort over a real SQLite store and the real core, for the API tests. */
import {
  decide, isRejection, start, startKey, type CompiledSaga, type Decision, type Env, type InstanceState, type SagaInput,
} from '../../engine/core/index.js';
import { formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import { SagaError } from '../../engine/errors.js';
import type { EnginePort, OperatorAct, Readiness, StartCommand, StartOutcome } from '../../engine/runtime/port.js';
import type { DeadLetter, Store } from '../../engine/store/index.js';

export function load(file: string): CompiledSaga[] {
  const r = loadDefinitionsFile(file);
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  return r.sagas;
}
export const sagas = [...load('sagas/order-fulfillment.yaml'), ...load('sagas/trip-booking.yaml')];
export const t0 = Date.UTC(2026, 10, 26, 12, 0, 0);

/** A deterministic clock and id source; each engine act moves the clock one second. */
export class TestEnv implements Env {
  now = t0;
  private n = 0;
  newId(): string {
    return `m-${String(++this.n).padStart(4, '0')}`;
  }
  random(): number {
    return 0.5;
  }
}

/**
 * The port over a real store and the real core, as the runtime does it minus NATS and timers:
 * each act is one decision persisted in one transaction; refusals throw the port's codes.
 */
export class StoreEngine implements EnginePort {
  readonly env = new TestEnv();
  readonly redriven: string[] = [];
  ready: Readiness = { ready: true, checks: { nats: { ok: true }, streams: { ok: true } } };
  failWith: Error | null = null;

  constructor(readonly store: Store) {}

  async start(cmd: StartCommand): Promise<StartOutcome> {
    if (this.failWith !== null) throw this.failWith;
    const def = sagas.find((d) => d.name === cmd.saga);
    if (def === undefined) throw new SagaError('SAGA_ERR_UNKNOWN_SAGA', `no saga ${cmd.saga}`);
    const known = cmd.id === undefined ? undefined : this.store.getInstance(cmd.id);
    if (known !== undefined) return { created: false, state: known };
    const id = cmd.id ?? this.env.newId();
    const correlationId = cmd.correlationId ?? `corr-${id}`;
    const k = cmd.key === undefined ? startKey(def, cmd.input, null, id, correlationId) : { ok: true as const, key: cmd.key };
    if (!k.ok) throw new SagaError('SAGA_ERR_INVALID_INPUT', k.error);
    const byKey = k.key === null ? undefined : this.store.findByKey(def.name, k.key);
    if (byKey !== undefined) return { created: false, state: byKey };
    this.env.now += 1000;
    const d = start(def, { id, input: cmd.input, key: k.key, correlationId, event: null, causationId: `api-${id}` }, this.env);
    return { created: true, state: this.persist(0, d) };
  }

  /** Feeds one input to an instance through `decide` and persists what it decided. */
  feed(id: string, input: SagaInput): InstanceState {
    const state = this.store.getInstance(id);
    if (state === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no instance ${id}`);
    this.env.now += 1000;
    const d = decide(this.def(state), state, input, this.env);
    if (isRejection(d)) throw new SagaError(d.rejected.code, d.rejected.message);
    return d.events.length === 0 ? state : this.persist(state.version, d);
  }

  /** The reply of `eventType` to the command the step (or its compensation) awaits. */
  reply(id: string, step: string, eventType: string, payload: unknown = {}): InstanceState {
    const st = this.store.getInstance(id)?.steps[step];
    const causationId = st?.compensation?.awaiting ?? st?.awaiting;
    if (causationId == null) throw new Error(`${id}/${step} awaits nothing`);
    const message = { eventId: this.env.newId(), eventType, correlationId: 'x', causationId, aggregateId: 'x', version: 1, payload };
    return this.feed(id, { type: 'ReplyReceived', message });
  }

  private def(state: InstanceState): CompiledSaga {
    const def = this.definitionByHash(state.definitionHash);
    if (def === undefined) throw new Error(`no definition ${state.definitionHash}`);
    return def;
  }

  private persist(fromVersion: number, d: Decision): InstanceState {
    this.store.tx(() => {
      this.store.append(d.state.id, fromVersion, d.events);
      this.store.saveInstance(d.state);
    });
    return d.state;
  }

  async cancel(id: string, reason: string, by?: string) { return this.feed(id, { type: 'CancelRequested', reason, ...(by === undefined ? {} : { by }) }); }
  async retry(id: string, act: OperatorAct = {}) { return this.feed(id, { type: 'RetryRequested', ...act }); }
  async getInstance(id: string) {
    if (this.failWith !== null) throw this.failWith;
    return this.store.getInstance(id);
  }
  async listInstances(filter: Parameters<EnginePort['listInstances']>[0]) { return this.store.listInstances(filter); }
  async history(id: string, after?: number) {
    if (this.store.getInstance(id) === undefined) return undefined;
    return this.store.history(id, after);
  }
  definitionByHash(hash: string) { return sagas.find((d) => d.hash === hash); }
  definitionsOf(name: string) { return sagas.filter((d) => d.name === name); }
  definitions() { return sagas; }
  async listDeadLetters(opts: { limit?: number; cursor?: string }) { return this.store.listDead(opts); }
  async getDeadLetter(id: string) { return this.store.getDead(id); }
  readonly acts: { action: string; id: string; act: OperatorAct }[] = [];

  async redriveDeadLetter(id: string, act: OperatorAct = {}): Promise<DeadLetter> {
    const letter = this.store.getDead(id);
    if (letter === undefined) throw new SagaError('SAGA_ERR_NOT_FOUND', `no dead letter ${id}`);
    if (letter.redrivenAt !== null) throw new SagaError('SAGA_ERR_ALREADY_REDRIVEN', `dead letter ${id} was redriven already`);
    this.store.markRedriven(id, this.env.now, act.by ?? null);
    this.acts.push({ action: 'redrive', id, act });
    this.redriven.push(id);
    return this.store.getDead(id) as DeadLetter;
  }
  async deleteDeadLetter(id: string, act: OperatorAct = {}) {
    this.acts.push({ action: 'purge', id, act });
    return this.store.deleteDead(id);
  }
  readiness() { return this.ready; }
  async metrics() { return '# HELP saga_instances Instances by state\n# TYPE saga_instances gauge\nsaga_instances{state="running"} 1\n'; }
  async timersOf(id: string) { return this.store.timersOf(id); }
  async definitionVersions(saga: string) { return this.store.definitionVersions(saga); }
  sagaDurations(since: number) { return this.store.sagaDurations(since); }
  async stats() {
    const s = this.store;
    return {
      instances: s.countByStatus().map((r) => ({ saga: r.saga, state: r.status, count: r.count })),
      timersPending: s.timerCount(), outboxBacklog: s.backlog(), deadLetters: s.deadCount(), consumerLag: 3,
    };
  }
}
