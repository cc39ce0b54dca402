import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { families, parseExposition, valueOf, type Scrape } from '../helpers/exposition.js';
import { order, SAGA } from './api-client.js';
import { startWorld } from './harness.js';

/**
 * `GET /metrics` of a running sagad (nats-server, the scripted participant, a SQLite file),
 * scraped and parsed as Prometheus would after one saga completed and one compensated: the
 * histograms count each step, compensation and saga under its outcome, the dead letter its
 * reason, the HTTP starts their route, and the commits, consumers and Node's own metrics are
 * there. Counts only: durations belong to the bench.
 */
const w = await startWorld(t);

async function scrape(): Promise<Scrape> {
  const r = await w.api.req<string>('GET', '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return parseExposition(r.body);
}

/** Cumulative buckets never decrease and end at the count. */
function bucketsSound(s: Scrape, name: string, labels: Record<string, string>): boolean {
  const buckets = [...s.series].filter(([k]) => k.startsWith(`${name}_bucket{`) && Object.entries(labels).every(([l, v]) => k.includes(`${l}="${v}"`)));
  const values = buckets.map(([, v]) => v);
  return buckets.length > 1 && values.every((v, i) => i === 0 || v >= (values[i - 1] ?? 0)) && values.at(-1) === valueOf(s, `${name}_count`, labels);
}

t.test('after one saga completes and one compensates, the histograms count each under its outcome', async (t) => {
  const ok = await w.api.started(order('o-metrics-ok'));
  const declined = await w.api.started(order('o-metrics~decline'));
  t.equal((await w.api.settled(ok.id)).state, 'completed', 'one completes', w.diag());
  t.equal((await w.api.settled(declined.id)).state, 'compensated', 'one compensates', w.diag());
  // Something that is not an envelope, on a subject sagad consumes: a dead letter by reason.
  await (await w.link()).js.publish('orders.events', new TextEncoder().encode('not json'));
  await waitFor(async () => valueOf(await scrape(), 'sagad_dead_letters_total', { reason: 'not_envelope' }) === 1, 15_000, { what: 'the dead letter to be counted' });
  const s = await scrape();

  const saga = (outcome: string) => ({ saga: SAGA, outcome });
  const step = (name: string, outcome: string) => ({ saga: SAGA, step: name, outcome });
  t.equal(s.types.get('sagad_saga_duration_seconds'), 'histogram');
  t.equal(valueOf(s, 'sagad_saga_duration_seconds_count', saga('completed')), 1, 'one saga completed', w.diag());
  t.equal(valueOf(s, 'sagad_saga_duration_seconds_count', saga('compensated')), 1, 'one saga compensated');
  t.equal(valueOf(s, 'sagad_saga_duration_seconds_count', saga('failed')), undefined, 'none failed');
  t.ok(bucketsSound(s, 'sagad_saga_duration_seconds', saga('completed')), 'saga buckets are cumulative and end at the count');
  t.equal(valueOf(s, 'sagad_step_duration_seconds_count', step('reserve-inventory', 'succeeded')), 2, 'both reserved');
  t.equal(valueOf(s, 'sagad_step_duration_seconds_count', step('charge-payment', 'succeeded')), 1, 'one charged');
  t.equal(valueOf(s, 'sagad_step_duration_seconds_count', step('charge-payment', 'failed')), 1, 'one declined');
  t.equal(valueOf(s, 'sagad_step_duration_seconds_count', step('ship-order', 'succeeded')), 1, 'one shipped');
  t.ok(bucketsSound(s, 'sagad_step_duration_seconds', step('reserve-inventory', 'succeeded')), 'step buckets are cumulative and end at the count');
  t.equal(valueOf(s, 'sagad_compensations_started_total', { saga: SAGA, reason: 'step_failed' }), 1, 'one compensation began, for a failed step');
  t.equal(valueOf(s, 'sagad_compensation_duration_seconds_count', step('reserve-inventory', 'compensated')), 1, 'the reservation was released');
  t.equal(valueOf(s, 'sagad_instances_finished_total', { saga: SAGA, state: 'completed' }), 1);
  t.equal(valueOf(s, 'sagad_instances_finished_total', { saga: SAGA, state: 'compensated' }), 1);
  t.equal(valueOf(s, 'sagad_instances_started_total', { saga: SAGA }), 2);
  t.equal(valueOf(s, 'sagad_instances', { saga: SAGA, state: 'completed' }), 1, 'the store gauge');
  t.equal(valueOf(s, 'sagad_dead_letters_total', { reason: 'not_envelope' }), 1, 'the dead letter by reason');
  t.equal(valueOf(s, 'sagad_dead_letters'), 1, 'and the gauge of those not redriven');

  t.equal(valueOf(s, 'sagad_http_request_duration_seconds_count', { method: 'POST', route: '/v1/sagas/:name/instances', status: '201' }), 2, 'the two starts, by route pattern');
  t.ok((valueOf(s, 'sagad_http_request_duration_seconds_count', { method: 'GET', route: '/v1/instances/:id', status: '200' }) ?? 0) >= 2, 'instance reads under one pattern, not one series per id');
  // Two starts and six replies (three of the completed saga; reserve, decline and release of the other), each written by a commit.
  t.ok((valueOf(s, 'sagad_commit_batch_size_sum') ?? 0) >= 8, `the commits carried every input (${String(valueOf(s, 'sagad_commit_batch_size_sum'))})`);
  t.equal(valueOf(s, 'sagad_commit_batch_size_count'), valueOf(s, 'sagad_commit_duration_seconds_count'), 'a size and a duration per commit');

  for (const consumer of ['sagad-inventory_events', 'sagad-payments_events', 'sagad-shipping_events', 'sagad-orders_events']) {
    t.equal(valueOf(s, 'sagad_consumer_lagging', { consumer }), 0, `${consumer}: watched, not lagging`);
    t.not(valueOf(s, 'sagad_consumer_pending', { consumer }), undefined, `${consumer}: pending`);
    t.not(valueOf(s, 'sagad_consumer_ack_pending', { consumer }), undefined, `${consumer}: ack pending`);
  }
  t.not(valueOf(s, 'sagad_outbox_oldest_age_seconds'), undefined, 'the outbox age');
  const names = families(s);
  for (const n of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']) t.ok(names.includes(n), `Node's ${n}`);
});
