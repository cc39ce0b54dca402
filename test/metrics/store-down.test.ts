import { join } from 'node:path';
import t from 'tap';
import { buildApi } from '../../engine/api/app.js';
import type { LogFn } from '../../engine/log.js';
import { Metrics } from '../../engine/metrics/registry.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, StoreError, StoreErrorCode } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { parseExposition } from '../helpers/exposition.js';

/**
 * GET /metrics while the database is down: the store's gauges cannot be read, and the rest
 * (the process, the consumers, the counters) is still answered, with `sagad_store_up` 0 and
 * the store's gauges at their last values; once the store answers again, 1.
 */
t.test('a store whose gauges cannot be read costs its gauges only', async (t) => {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  let down = false;
  const failing = {
    ...port,
    gauges: () => (down ? Promise.reject(new StoreError(StoreErrorCode.StoreUnavailable, 'PostgreSQL at db:5432 is unavailable (ECONNREFUSED); retrying later may succeed')) : port.gauges()),
  };
  const metrics = new Metrics({ defaults: true });
  const lines: { level: string; msg: string }[] = [];
  const log: LogFn = (level, msg) => { lines.push({ level, msg }); };
  const engine = new Engine({ store: failing, registry: new Registry([]), log, metrics, lag: () => 7 });
  metrics.consumer('sagad-orders_events', { pending: 3, ackPending: 1, oldestAgeSeconds: 2, lagging: false });
  const app = buildApi(engine);
  t.teardown(() => app.close());
  const scrape = async () => {
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    return { status: r.statusCode, samples: r.statusCode === 200 ? parseExposition(r.body).series : null };
  };

  await port.park({ subject: 'orders.events', reason: 'not an envelope', headers: {}, data: new Uint8Array([1]), deliveryCount: 1, at: Date.now() });
  const up = await scrape();
  t.equal(up.status, 200);
  t.equal(up.samples?.get('sagad_store_up'), 1, 'sagad_store_up is 1 while the store answers');
  t.equal(up.samples?.get('sagad_dead_letters'), 1, 'the store\'s gauges are read');

  down = true;
  const r = await scrape();
  t.equal(r.status, 200, '/metrics still answers while the store is down');
  const s = r.samples;
  t.equal(s?.get('sagad_store_up'), 0, 'sagad_store_up is 0');
  t.ok(s !== null && s !== undefined && [...s.keys()].some((k) => k.startsWith('process_cpu')), 'with the process metrics');
  t.ok(s !== null && s !== undefined && [...s.keys()].some((k) => k.startsWith('nodejs_')), 'and Node\'s');
  t.equal(s?.get('sagad_consumer_pending{consumer="sagad-orders_events"}'), 3, 'and the consumer metrics');
  t.equal(s?.get('sagad_consumer_lag'), 7, 'and the consumers\' total lag');
  t.equal(s?.get('sagad_dead_letters'), 1, 'the store\'s gauges keep their last values');
  await scrape();
  t.equal(lines.filter((l) => l.msg.startsWith('metrics: the store did not answer')).length, 1, 'said once, not at every scrape');

  down = false;
  t.equal((await scrape()).samples?.get('sagad_store_up'), 1, 'back to 1 once the store answers');
});
