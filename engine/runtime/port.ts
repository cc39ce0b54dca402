import type { CompiledSaga, InstanceState } from '../core/index.js';
import type { DeadLetter, DeadLetterSummary, DeadListOptions, DurationGroup, InstanceFilter, InstanceSummary, JournalEntry, Page, TimerRow, VersionCount } from '../store/index.js';

/** Who asked for an operator's act (a token's name) and why: journaled with the act. */
export interface OperatorAct {
  readonly by?: string;
  readonly reason?: string;
}

/** A start request from the API, `sagas.start.<name>`, or a trigger event. */
export interface StartCommand {
  readonly saga: string;
  readonly input: unknown;
  readonly key?: string | undefined;
  readonly correlationId?: string | undefined;
  readonly id?: string | undefined;
  /** The caller's `traceparent`/`tracestate` (HTTP or NATS headers): the instance's trace continues it when tracing is on. */
  readonly trace?: { readonly traceparent?: string | undefined; readonly tracestate?: string | undefined } | undefined;
}

/** What a start did: `created` is false when the id or the key already had an instance. */
export interface StartOutcome {
  readonly created: boolean;
  readonly state: InstanceState;
}

/** Readiness of the server: each check with a sentence when it fails. */
export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, { readonly ok: boolean; readonly detail?: string }>>;
}

/** Counts an operator looks at first (`GET /v1/stats`, `sagactl stats`). */
export interface EngineStats {
  /** Instances in the database by saga and state, sorted by saga then state. */
  readonly instances: readonly { readonly saga: string; readonly state: string; readonly count: number }[];
  readonly timersPending: number;
  /** Outgoing messages not yet acknowledged by JetStream. */
  readonly outboxBacklog: number;
  /** Dead letters not redriven. */
  readonly deadLetters: number;
  /** Messages on subscribed subjects not yet processed (sampled every few seconds). */
  readonly consumerLag: number;
}

/**
 * What the HTTP API (and sagactl through it) may ask of the running engine. Reads are
 * synchronous SQLite queries; acts go through the engine's input queue and resolve after
 * their transaction committed. Failures throw `SagaError` with a `SAGA_ERR_*` code:
 * SAGA_ERR_UNKNOWN_SAGA, SAGA_ERR_NOT_FOUND, SAGA_ERR_INVALID_INPUT (start input fails its
 * schema or its key expression), SAGA_ERR_INVALID_STATE, SAGA_ERR_PAST_PIVOT,
 * SAGA_ERR_NOT_READY (draining or not connected).
 */
export interface EnginePort {
  start(cmd: StartCommand): Promise<StartOutcome>;
  /** `by`: who asked, recorded in the instance's journal with the reason. */
  cancel(id: string, reason: string, by?: string): Promise<InstanceState>;
  retry(id: string, act?: OperatorAct): Promise<InstanceState>;
  getInstance(id: string): Promise<InstanceState | undefined>;
  /** The instance's pending durable timers, earliest first (empty for an unknown id). */
  timersOf(id: string): Promise<TimerRow[]>;
  listInstances(filter: InstanceFilter): Promise<Page<InstanceSummary>>;
  /** The instance's journal, oldest first; undefined for an unknown instance. */
  /** The instance's journal, oldest first, after seq `after` (0: all); undefined when there is no such instance. */
  history(id: string, after?: number): Promise<JournalEntry[] | undefined>;
  /** The definition an instance runs (pinned by hash), or the current one by name. */
  definitionByHash(hash: string): CompiledSaga | undefined;
  /** Every definition of the saga this process holds: the current one and those running instances are pinned to. */
  definitionsOf(name: string): readonly CompiledSaga[];
  definitions(): readonly CompiledSaga[];
  /** Letters without their bodies, newest first, a page bounded by count and size. */
  listDeadLetters(opts: DeadListOptions): Promise<Page<DeadLetterSummary>>;
  getDeadLetter(id: string): Promise<DeadLetter | undefined>;
  /** Publishes the dead letter's raw bytes again on its subject and marks it redriven; a second redrive is SAGA_ERR_ALREADY_REDRIVEN. */
  redriveDeadLetter(id: string, act?: OperatorAct): Promise<DeadLetter>;
  deleteDeadLetter(id: string, act?: OperatorAct): Promise<boolean>;
  readiness(): Readiness;
  /** Prometheus text exposition of the engine's metrics. */
  metrics(): Promise<string>;
  /** The same gauges as `metrics()`, as one document. */
  stats(): Promise<EngineStats>;
  /** Instances of `saga` per definition version (hash), exact (the store's `definitionVersions`). */
  definitionVersions(saga: string): Promise<VersionCount[]>;
  /** Saga time percentiles of the instances created since `since` that finished (the store's `sagaDurations`). */
  sagaDurations(since: number): Promise<DurationGroup[]>;
}
