import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Gauges } from '../store/index.js';
import { RecentSummary } from './recent-summary.js';

/** Buckets in seconds for work that takes from milliseconds (a step answered at once) to an hour. */
const STEP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600];
/** A saga may wait for a day. */
const SAGA_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21_600, 86_400];
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const COMMIT_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const COMMIT_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Why a message went to the dead-letter queue, as a label (the stored reason is a sentence). */
export type DeadLetterReason = 'not_envelope' | 'invalid_message' | 'invalid_input' | 'correlation_mismatch' | 'late_reply' | 'max_deliveries'
  // An early event's copy: no wait took it within SAGA_EARLY_EVENT_TTL, or its instance kept 100 already.
  | 'early_expired' | 'early_full'
  // An outgoing message larger than NATS takes (max_payload, or its stream's max_msg_size): the relay parks it.
  | 'too_large';

/** One consumer's backlog as the lag monitor last saw it. */
export interface ConsumerBacklog {
  readonly pending: number;
  readonly ackPending: number;
  /** Seconds since the oldest message not yet acknowledged was published; 0 when none. */
  readonly oldestAgeSeconds: number;
  /** Past SAGA_LAG_MAX or SAGA_LAG_MAX_AGE. */
  readonly lagging: boolean;
}

/** The gauges read at scrape time: the store's counts and the consumers' total lag. */
export interface ScrapeGauges extends Gauges {
  readonly consumerLag: number;
  /** Now, to turn the oldest unsent outbox row's time into an age. */
  readonly now: number;
}

/** A scrape whose read of the store's counts failed (the database is down): everything else is still rendered. */
export interface ScrapeWithoutStore {
  readonly storeUp: false;
  readonly consumerLag: number;
}

/**
 * Every metric one sagad exposes on `/metrics` (docs/metrics.md), in a prom-client registry of
 * its own: tests run several sagads in one process, and the global registry would mix them.
 * Recording is synchronous and touches memory only; the gauges that need the store are set
 * when a scrape renders them.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly reg = [this.registry];

  readonly messages = this.counter('sagad_messages_total', 'Messages consumed, by outcome.', ['outcome']);
  readonly writeConflicts = this.counter('sagad_write_conflicts_total', 'Writes decided again because another writer changed the instance first.', []);
  readonly inputsIgnored = this.counter('sagad_inputs_ignored_total', 'Inputs that changed nothing, by reason.', ['reason']);
  readonly instancesStarted = this.counter('sagad_instances_started_total', 'Instances started, by saga.', ['saga']);
  readonly instancesFinished = this.counter('sagad_instances_finished_total', 'Instances that reached an end state, by saga and state.', ['saga', 'state']);
  readonly timersFired = this.counter('sagad_timers_fired_total', 'Durable timers fired.', ['kind']);
  readonly stepRetries = this.counter('sagad_step_retries_total', 'Step attempts that failed or timed out and will be tried again, by saga and step.', ['saga', 'step']);
  readonly compensationRetries = this.counter('sagad_compensation_retries_total', 'Compensation attempts that failed or timed out and will be tried again, by saga and step.', ['saga', 'step']);
  readonly compensationsStarted = this.counter('sagad_compensations_started_total', 'Instances that began to compensate, by saga and reason (step_failed, cancelled, deadline).', ['saga', 'reason']);
  readonly earlyEvents = this.counter('sagad_early_events_total', 'Events that arrived before their wait step started, by what became of them (kept, delivered, dead_lettered).', ['outcome']);
  readonly deadLettersDropped = this.counter('sagad_dead_letters_dropped_total', 'Dead letters dropped, oldest first, to keep the queue under SAGA_DLQ_MAX and SAGA_DLQ_MAX_BYTES.', []);
  readonly deadLettered = this.counter('sagad_dead_letters_total', 'Messages put in the dead-letter queue, by reason.', ['reason']);

  readonly stepDuration = this.histogram('sagad_step_duration_seconds',
    'Steps from their first dispatch (or the start of their wait) to their end, retries included, by saga, step and outcome.', ['saga', 'step', 'outcome'], STEP_BUCKETS);
  readonly compensationDuration = this.histogram('sagad_compensation_duration_seconds',
    'Compensations of a step from their first dispatch to their end, by saga, step and outcome (compensated, failed).', ['saga', 'step', 'outcome'], STEP_BUCKETS);
  readonly sagaDuration = this.histogram('sagad_saga_duration_seconds',
    'Instances from their start to their end state, by saga and outcome (completed, compensated, failed).', ['saga', 'outcome'], SAGA_BUCKETS);
  readonly timerLagHistogram = this.histogram('sagad_timer_fire_lag_seconds', 'How late durable timers fired after their due time, by kind.', ['kind'], LAG_BUCKETS);
  readonly commitBatchSize = this.histogram('sagad_commit_batch_size', 'Inputs carried by one shared commit (group commit), duplicates undone inside it included.', [], COMMIT_SIZE_BUCKETS);
  readonly commitDuration = this.histogram('sagad_commit_duration_seconds', 'Time one shared commit took, its fsync included.', [], COMMIT_BUCKETS);
  readonly httpDuration = this.histogram('sagad_http_request_duration_seconds', 'HTTP requests from arrival to the answer sent, by method, route pattern and status.', ['method', 'route', 'status'], HTTP_BUCKETS);

  private readonly timerLag = new RecentSummary({
    name: 'sagad_timer_lag_seconds', help: 'How late timers fired after their dueAt (recent 4096).', percentiles: [0.5, 0.99], registers: this.reg,
  });
  private readonly timerLagMax = this.gauge('sagad_timer_lag_max_seconds', 'Largest timer lag seen.', []);
  private lagMaxMs = 0;

  private readonly instances = this.gauge('sagad_instances', 'Instances in the database, by saga and state.', ['saga', 'state']);
  private readonly timersPending = this.gauge('sagad_timers_pending', 'Durable timers not yet fired.', []);
  private readonly outboxBacklog = this.gauge('sagad_outbox_backlog', 'Outgoing messages not yet acknowledged by JetStream.', []);
  private readonly outboxAge = this.gauge('sagad_outbox_oldest_age_seconds', 'Age of the oldest outgoing message not yet acknowledged by JetStream; 0 when none waits.', []);
  private readonly deadLetters = this.gauge('sagad_dead_letters', 'Dead letters not redriven.', []);
  private readonly consumerLag = this.gauge('sagad_consumer_lag', 'Messages on subscribed subjects not yet processed (all consumers).', []);
  private readonly consumerPending = this.gauge('sagad_consumer_pending', 'Messages not yet delivered to sagad, by durable consumer.', ['consumer']);
  private readonly consumerAckPending = this.gauge('sagad_consumer_ack_pending', 'Messages delivered to sagad and not yet acknowledged, by durable consumer.', ['consumer']);
  private readonly consumerAge = this.gauge('sagad_consumer_oldest_pending_age_seconds', 'Age of the oldest message a consumer has not acknowledged; 0 when none.', ['consumer']);
  private readonly consumerLagging = this.gauge('sagad_consumer_lagging', '1 while a consumer is past SAGA_LAG_MAX or SAGA_LAG_MAX_AGE, else 0.', ['consumer']);
  private readonly storeUpGauge = this.gauge('sagad_store_up', '1 when the store answered the read of its gauges at this scrape, 0 when it failed (they keep their last values).', []);
  private storeAnswered = true;

  /** With `defaults`, Node's own metrics too (CPU, memory, event loop lag, GC): sagad has them; unit tests need not. */
  constructor(opts: { defaults?: boolean } = {}) {
    if (opts.defaults === true) collectDefaultMetrics({ register: this.registry });
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: this.reg });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: this.reg });
  }

  private histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: this.reg });
  }

  /** Records how late a timer fired (ms past its dueAt), in the summary, the histogram and the maximum. */
  timerFired(kind: string, lagMs: number): void {
    this.timerLag.record(lagMs);
    this.timerLagHistogram.observe({ kind }, lagMs / 1000);
    this.timersFired.inc({ kind });
    if (lagMs > this.lagMaxMs) {
      this.lagMaxMs = lagMs;
      this.timerLagMax.set(lagMs / 1000);
    }
  }

  /** Records one shared commit: how many inputs it carried and how long it took. */
  commit(size: number, seconds: number): void {
    this.commitBatchSize.observe(size);
    this.commitDuration.observe(seconds);
  }

  /** Records one HTTP request; `route` is the pattern (`/v1/instances/:id`), never the raw URL, to bound the series. */
  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }

  /** Sets one consumer's backlog gauges (the lag monitor calls it after each sample). */
  consumer(name: string, b: ConsumerBacklog): void {
    this.consumerPending.set({ consumer: name }, b.pending);
    this.consumerAckPending.set({ consumer: name }, b.ackPending);
    this.consumerAge.set({ consumer: name }, b.oldestAgeSeconds);
    this.consumerLagging.set({ consumer: name }, b.lagging ? 1 : 0);
  }

  /** Whether the store answered the last scrape's read of its gauges (true before any scrape). */
  get storeUp(): boolean {
    return this.storeAnswered;
  }

  /**
   * Prometheus text of every metric, the store's gauges set from `g` first. Without them (the
   * store did not answer) the rest is rendered all the same, `sagad_store_up` 0 and the store's
   * gauges at their last values: a database outage must not hide the process's own metrics.
   */
  async render(g: ScrapeGauges | ScrapeWithoutStore): Promise<string> {
    this.consumerLag.set(g.consumerLag);
    this.storeAnswered = !('storeUp' in g);
    this.storeUpGauge.set(this.storeAnswered ? 1 : 0);
    if ('storeUp' in g) return this.registry.metrics();
    this.instances.reset();
    for (const r of g.instances) this.instances.set({ saga: r.saga, state: r.status }, r.count);
    this.timersPending.set(g.timersPending);
    this.outboxBacklog.set(g.outboxBacklog);
    this.outboxAge.set(g.outboxOldestAt === null ? 0 : Math.max(0, g.now - g.outboxOldestAt) / 1000);
    this.deadLetters.set(g.deadLetters);
    return this.registry.metrics();
  }

  /** The content type of {@link render}'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
