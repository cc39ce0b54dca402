import t from 'tap';
import { evolve, type InstanceState, type SagaEvent } from '../../engine/core/index.js';
import { observeChange } from '../../engine/metrics/observe-change.js';
import { Metrics, type ScrapeGauges } from '../../engine/metrics/registry.js';
import { families, parseExposition, valueOf } from '../helpers/exposition.js';

/**
 * The exposition a scraper reads from `GET /metrics`, parsed as Prometheus would: series by
 * name and labels, histogram buckets, TYPE lines. Every figure follows from known inputs.
 */

const noGauges: ScrapeGauges = { instances: [], timersPending: 0, outboxBacklog: 0, outboxOldestAt: null, deadLetters: 0, consumerLag: 0, now: 0 };
const scrape = async (m: Metrics, g: Partial<ScrapeGauges> = {}) => parseExposition(await m.render({ ...noGauges, ...g }));

t.test('counters add up per label set, with HELP and TYPE once per family', async (t) => {
  const m = new Metrics();
  m.messages.inc({ outcome: 'reply' });
  m.messages.inc({ outcome: 'reply' }, 2);
  m.messages.inc({ outcome: 'duplicate' });
  m.writeConflicts.inc();
  const text = await m.render(noGauges);
  t.ok(text.includes('# HELP sagad_messages_total Messages consumed, by outcome.\n# TYPE sagad_messages_total counter\n'), 'HELP and TYPE');
  t.equal(text.split('\n').filter((l) => l.startsWith('# TYPE sagad_messages_total ')).length, 1, 'one TYPE line');
  const s = parseExposition(text);
  t.equal(valueOf(s, 'sagad_messages_total', { outcome: 'reply' }), 3);
  t.equal(valueOf(s, 'sagad_messages_total', { outcome: 'duplicate' }), 1);
  t.equal(valueOf(s, 'sagad_write_conflicts_total'), 1);
  t.equal(valueOf(s, 'sagad_dead_letters_total', { reason: 'not_envelope' }), undefined, 'a labelled counter never incremented has no series');
});

t.test('label values are escaped: backslash, quote, newline', async (t) => {
  const m = new Metrics();
  m.inputsIgnored.inc({ reason: 'x\\y"z\nw' });
  t.ok((await m.render(noGauges)).includes('sagad_inputs_ignored_total{reason="x\\\\y\\"z\\nw"} 1\n'));
});

t.test('the timer lag: exact quantiles of the recent 4096, sum, count and max in seconds, and a histogram by kind', async (t) => {
  const empty = await m0();
  t.same(empty.split('\n').filter((l) => l.startsWith('sagad_timer_lag')), [
    'sagad_timer_lag_seconds{quantile="0.5"} 0',
    'sagad_timer_lag_seconds{quantile="0.99"} 0',
    'sagad_timer_lag_seconds_sum 0',
    'sagad_timer_lag_seconds_count 0',
    'sagad_timer_lag_max_seconds 0',
  ], 'all zero before any timer fired');
  t.ok(empty.includes('# HELP sagad_timer_lag_seconds How late timers fired after their dueAt (recent 4096).\n# TYPE sagad_timer_lag_seconds summary\n'));
  t.ok(empty.includes('# TYPE sagad_timer_lag_max_seconds gauge\n'));

  const m = new Metrics();
  // 1..200 ms, given out of order: the quantiles come from the sorted values.
  for (let i = 200; i >= 1; i--) m.timerFired(i % 2 === 0 ? 'retry' : 'attempt_timeout', i);
  const text = await m.render(noGauges);
  t.same(text.split('\n').filter((l) => l.startsWith('sagad_timer_lag')), [
    'sagad_timer_lag_seconds{quantile="0.5"} 0.101',
    'sagad_timer_lag_seconds{quantile="0.99"} 0.199',
    'sagad_timer_lag_seconds_sum 20.1',
    'sagad_timer_lag_seconds_count 200',
    'sagad_timer_lag_max_seconds 0.2',
  ]);
  const s = parseExposition(text);
  t.equal(s.types.get('sagad_timer_fire_lag_seconds'), 'histogram');
  // Even lags are retries: 2, 4, ..., 200 ms; 2 and 4 are under 5 ms, 2..10 under 10 ms, up to 100 under 100 ms.
  t.equal(valueOf(s, 'sagad_timer_fire_lag_seconds_bucket', { kind: 'retry', le: '0.001' }), 0);
  t.equal(valueOf(s, 'sagad_timer_fire_lag_seconds_bucket', { kind: 'retry', le: '0.005' }), 2);
  t.equal(valueOf(s, 'sagad_timer_fire_lag_seconds_bucket', { kind: 'retry', le: '0.01' }), 5);
  t.equal(valueOf(s, 'sagad_timer_fire_lag_seconds_bucket', { kind: 'retry', le: '0.1' }), 50);
  t.equal(valueOf(s, 'sagad_timer_fire_lag_seconds_bucket', { kind: 'retry', le: '0.25' }), 100);
  t.equal(valueOf(s, 'sagad_timer_fire_lag_seconds_bucket', { kind: 'retry', le: '+Inf' }), 100);
  t.equal(valueOf(s, 'sagad_timer_fire_lag_seconds_count', { kind: 'attempt_timeout' }), 100);
  t.ok(near(valueOf(s, 'sagad_timer_fire_lag_seconds_sum', { kind: 'attempt_timeout' }), 10), 'odd lags 1..199 ms add up to 10 s');
  t.equal(valueOf(s, 'sagad_timers_fired_total', { kind: 'retry' }), 100);
});

/** Sums of floating-point seconds: equal to a billionth. */
function near(actual: number | undefined, expected: number): boolean {
  return actual !== undefined && Math.abs(actual - expected) < 1e-9;
}

async function m0(): Promise<string> {
  return new Metrics().render(noGauges);
}

t.test('the quantiles look at the most recent 4096 lags; sum, count and max at all of them', async (t) => {
  const m = new Metrics();
  m.timerFired('deadline', 1_000_000);
  for (let i = 0; i < 4096; i++) m.timerFired('deadline', 10);
  const s = await scrape(m);
  t.equal(valueOf(s, 'sagad_timer_lag_seconds', { quantile: '0.99' }), 0.01, 'the old outlier has left the window');
  t.equal(valueOf(s, 'sagad_timer_lag_seconds_count'), 4097);
  t.equal(valueOf(s, 'sagad_timer_lag_max_seconds'), 1000);
  t.equal(valueOf(s, 'sagad_timer_lag_seconds_sum'), (1_000_000 + 4096 * 10) / 1000);
  t.equal(valueOf(s, 'sagad_timer_fire_lag_seconds_bucket', { kind: 'deadline', le: '60' }), 4096, 'the histogram keeps the outlier: only +Inf holds it');
  t.equal(valueOf(s, 'sagad_timer_fire_lag_seconds_bucket', { kind: 'deadline', le: '+Inf' }), 4097);

  // Many more than the window: the memory is trimmed, the quantiles stay those of the latest 4096.
  const long = new Metrics();
  for (let i = 0; i < 20_000; i++) long.timerFired('retry', i < 15_000 ? 500 : 3);
  const l = await scrape(long);
  t.equal(valueOf(l, 'sagad_timer_lag_seconds', { quantile: '0.99' }), 0.003);
  t.equal(valueOf(l, 'sagad_timer_lag_seconds_count'), 20_000);

  const few = new Metrics();
  for (const ms of [5, 1, 3]) few.timerFired('retry', ms);
  const f = await scrape(few);
  t.equal(valueOf(f, 'sagad_timer_lag_seconds', { quantile: '0.5' }), 0.003, 'the middle of three');
  t.equal(valueOf(f, 'sagad_timer_lag_seconds', { quantile: '0.99' }), 0.005, 'the largest of three');
});

/** Applies events to a state through the core's evolve, as the engine's commit leaves it. */
function after(state: InstanceState | undefined, events: SagaEvent[]): InstanceState {
  let s = state;
  for (const e of events) s = evolve(s, e);
  if (s === undefined) throw new Error('no events');
  return s;
}

const started: SagaEvent = {
  type: 'SagaStarted', at: 10_000, instanceId: 'i-1', saga: 'order', definitionHash: 'h', key: null, correlationId: 'c', input: {}, event: null, deadlineAt: null,
};

t.test('a committed change gives step and saga durations from its own events and state, with the outcome', async (t) => {
  const m = new Metrics();
  let s = after(undefined, [started, { type: 'StepDispatched', at: 10_000, step: 'reserve', attempt: 1, commandId: 'c1', timeoutAt: 20_000 }]);
  // The first attempt times out and is retried: the step's time runs from its first dispatch.
  const retry: SagaEvent[] = [{ type: 'StepAttemptFailed', at: 15_000, step: 'reserve', attempt: 1, error: 'timed out', retryAt: 15_500 }];
  s = after(s, retry);
  observeChange(m, { state: s, events: retry });
  s = after(s, [{ type: 'StepDispatched', at: 15_500, step: 'reserve', attempt: 2, commandId: 'c2', timeoutAt: 25_500 }]);
  const success: SagaEvent[] = [
    { type: 'StepSucceeded', at: 16_000, step: 'reserve', replyId: 'r1', output: {}, pivot: false },
    { type: 'StepDispatched', at: 16_000, step: 'charge', attempt: 1, commandId: 'c3', timeoutAt: 26_000 },
  ];
  s = after(s, success);
  observeChange(m, { state: s, events: success });
  const failure: SagaEvent[] = [
    { type: 'StepFailed', at: 16_200, step: 'charge', error: 'declined', status: 'failed', outcome: 'not_done' },
    { type: 'CompensationStarted', at: 16_200, reason: { kind: 'step_failed', step: 'charge', message: 'declined' }, queue: ['reserve'] },
    { type: 'CompensationDispatched', at: 16_200, step: 'reserve', attempt: 1, commandId: 'c4', timeoutAt: 26_200 },
  ];
  s = after(s, failure);
  observeChange(m, { state: s, events: failure });
  const undone: SagaEvent[] = [{ type: 'StepCompensated', at: 16_700, step: 'reserve', replyId: 'r2' }, { type: 'SagaCompensated', at: 16_700 }];
  s = after(s, undone);
  observeChange(m, { state: s, events: undone });

  const x = await scrape(m);
  t.equal(x.types.get('sagad_step_duration_seconds'), 'histogram');
  t.equal(valueOf(x, 'sagad_step_duration_seconds_count', { saga: 'order', step: 'reserve', outcome: 'succeeded' }), 1);
  t.equal(valueOf(x, 'sagad_step_duration_seconds_sum', { saga: 'order', step: 'reserve', outcome: 'succeeded' }), 6, 'from 10 s to 16 s');
  t.equal(valueOf(x, 'sagad_step_duration_seconds_bucket', { saga: 'order', step: 'reserve', outcome: 'succeeded', le: '5' }), 0);
  t.equal(valueOf(x, 'sagad_step_duration_seconds_bucket', { saga: 'order', step: 'reserve', outcome: 'succeeded', le: '10' }), 1);
  t.equal(valueOf(x, 'sagad_step_duration_seconds_sum', { saga: 'order', step: 'charge', outcome: 'failed' }), 0.2);
  t.equal(valueOf(x, 'sagad_step_retries_total', { saga: 'order', step: 'reserve' }), 1);
  t.equal(valueOf(x, 'sagad_compensations_started_total', { saga: 'order', reason: 'step_failed' }), 1);
  t.equal(valueOf(x, 'sagad_compensation_duration_seconds_sum', { saga: 'order', step: 'reserve', outcome: 'compensated' }), 0.5);
  t.equal(valueOf(x, 'sagad_saga_duration_seconds_count', { saga: 'order', outcome: 'compensated' }), 1);
  t.equal(valueOf(x, 'sagad_saga_duration_seconds_sum', { saga: 'order', outcome: 'compensated' }), 6.7);
  t.equal(valueOf(x, 'sagad_saga_duration_seconds_bucket', { saga: 'order', outcome: 'compensated', le: '5' }), 0);
  t.equal(valueOf(x, 'sagad_saga_duration_seconds_bucket', { saga: 'order', outcome: 'compensated', le: '10' }), 1);
  t.equal(valueOf(x, 'sagad_saga_duration_seconds_count', { saga: 'order', outcome: 'completed' }), undefined, 'no saga completed');
  t.equal(valueOf(x, 'sagad_instances_finished_total', { saga: 'order', state: 'compensated' }), 1);
});

t.test('a compensation that runs out of attempts and a step given up are timed with their own outcome', async (t) => {
  const m = new Metrics();
  let s = after(undefined, [started, { type: 'StepDispatched', at: 10_000, step: 'a', attempt: 1, commandId: 'c1', timeoutAt: 20_000 }]);
  const cancelled: SagaEvent[] = [
    { type: 'CompensationStarted', at: 11_000, reason: { kind: 'cancelled', step: null, message: 'operator' }, queue: ['a'] },
    { type: 'StepGivenUp', at: 11_000, step: 'a', status: 'failed', outcome: 'unknown' },
    { type: 'CompensationDispatched', at: 11_000, step: 'a', attempt: 1, commandId: 'c2', timeoutAt: 12_000 },
  ];
  s = after(s, cancelled);
  observeChange(m, { state: s, events: cancelled });
  const failing: SagaEvent[] = [
    { type: 'CompensationAttemptFailed', at: 12_000, step: 'a', attempt: 1, error: 'busy', retryAt: 12_000 },
  ];
  s = after(s, failing);
  observeChange(m, { state: s, events: failing });
  const end: SagaEvent[] = [{ type: 'CompensationFailed', at: 14_000, step: 'a', error: 'busy' }, { type: 'SagaFailed', at: 14_000, step: 'a', error: 'busy' }];
  s = after(s, end);
  observeChange(m, { state: s, events: end });
  const x = await scrape(m);
  t.equal(valueOf(x, 'sagad_step_duration_seconds_sum', { saga: 'order', step: 'a', outcome: 'given_up' }), 1);
  t.equal(valueOf(x, 'sagad_compensations_started_total', { saga: 'order', reason: 'cancelled' }), 1);
  t.equal(valueOf(x, 'sagad_compensation_retries_total', { saga: 'order', step: 'a' }), 1);
  t.equal(valueOf(x, 'sagad_compensation_duration_seconds_sum', { saga: 'order', step: 'a', outcome: 'failed' }), 3);
  t.equal(valueOf(x, 'sagad_saga_duration_seconds_sum', { saga: 'order', outcome: 'failed' }), 4);
  t.equal(valueOf(x, 'sagad_instances_finished_total', { saga: 'order', state: 'failed' }), 1);
});

t.test('commits, HTTP requests and consumers: histograms and gauges from what was recorded', async (t) => {
  const m = new Metrics();
  for (const size of [1, 1, 3, 200]) m.commit(size, 0.004);
  m.httpRequest('GET', '/v1/instances/:id', 200, 0.002);
  m.httpRequest('GET', '/v1/instances/:id', 200, 0.3);
  m.httpRequest('POST', '/v1/sagas/:name/instances', 201, 0.02);
  m.consumer('sagad-orders_events', { pending: 7, ackPending: 2, oldestAgeSeconds: 1.5, lagging: true });
  const x = await scrape(m);
  t.equal(valueOf(x, 'sagad_commit_batch_size_bucket', { le: '1' }), 2);
  t.equal(valueOf(x, 'sagad_commit_batch_size_bucket', { le: '4' }), 3);
  t.equal(valueOf(x, 'sagad_commit_batch_size_bucket', { le: '128' }), 3);
  t.equal(valueOf(x, 'sagad_commit_batch_size_bucket', { le: '256' }), 4);
  t.equal(valueOf(x, 'sagad_commit_batch_size_sum'), 205);
  t.equal(valueOf(x, 'sagad_commit_duration_seconds_count'), 4);
  t.equal(valueOf(x, 'sagad_commit_duration_seconds_bucket', { le: '0.002' }), 0);
  t.equal(valueOf(x, 'sagad_commit_duration_seconds_bucket', { le: '0.005' }), 4);
  t.equal(valueOf(x, 'sagad_http_request_duration_seconds_count', { method: 'GET', route: '/v1/instances/:id', status: '200' }), 2);
  t.equal(valueOf(x, 'sagad_http_request_duration_seconds_bucket', { method: 'GET', route: '/v1/instances/:id', status: '200', le: '0.005' }), 1);
  t.equal(valueOf(x, 'sagad_http_request_duration_seconds_count', { method: 'POST', route: '/v1/sagas/:name/instances', status: '201' }), 1);
  t.equal(valueOf(x, 'sagad_consumer_pending', { consumer: 'sagad-orders_events' }), 7);
  t.equal(valueOf(x, 'sagad_consumer_ack_pending', { consumer: 'sagad-orders_events' }), 2);
  t.equal(valueOf(x, 'sagad_consumer_oldest_pending_age_seconds', { consumer: 'sagad-orders_events' }), 1.5);
  t.equal(valueOf(x, 'sagad_consumer_lagging', { consumer: 'sagad-orders_events' }), 1);
});

t.test('the store gauges are set at each render: instances by saga and state, outbox age, counts', async (t) => {
  const m = new Metrics();
  const first = await scrape(m, {
    instances: [{ saga: 'order', status: 'running', count: 2 }, { saga: 'order', status: 'failed', count: 1 }],
    timersPending: 4, outboxBacklog: 3, outboxOldestAt: 1_000, deadLetters: 5, consumerLag: 9, now: 3_500,
  });
  t.equal(valueOf(first, 'sagad_instances', { saga: 'order', state: 'running' }), 2);
  t.equal(valueOf(first, 'sagad_instances', { saga: 'order', state: 'failed' }), 1);
  t.equal(valueOf(first, 'sagad_timers_pending'), 4);
  t.equal(valueOf(first, 'sagad_outbox_backlog'), 3);
  t.equal(valueOf(first, 'sagad_outbox_oldest_age_seconds'), 2.5);
  t.equal(valueOf(first, 'sagad_dead_letters'), 5);
  t.equal(valueOf(first, 'sagad_consumer_lag'), 9);
  const second = await scrape(m, { instances: [{ saga: 'order', status: 'completed', count: 3 }] });
  t.equal(valueOf(second, 'sagad_instances', { saga: 'order', state: 'running' }), undefined, 'a state no longer counted leaves');
  t.equal(valueOf(second, 'sagad_instances', { saga: 'order', state: 'completed' }), 3);
  t.equal(valueOf(second, 'sagad_outbox_oldest_age_seconds'), 0, 'nothing waits: age 0');
});

t.test('each sagad has its own registry; Node defaults only when asked', async (t) => {
  const a = new Metrics();
  const b = new Metrics({ defaults: true });
  a.messages.inc({ outcome: 'reply' });
  t.equal(valueOf(await scrape(b), 'sagad_messages_total', { outcome: 'reply' }), undefined, 'b did not see a');
  const names = families(await scrape(b));
  for (const n of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) t.ok(names.includes(n), n);
  t.notOk(families(await scrape(a)).includes('process_cpu_user_seconds_total'));
});
