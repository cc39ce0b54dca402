/**
 * `sagactl stats --times`: saga-time percentiles from the API and from a database read
 * offline, the same document either way. A real SQLite file written through the real core
 * (test/api/store-engine.ts), served by the real API on a port.
 */
import { join } from 'node:path';
import t from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { openStore } from '../../engine/store/index.js';
import { StoreEngine, t0 } from '../api/store-engine.js';
import { cli } from './helpers.js';

const dir = t.testdir();
const file = join(dir, 'sagad.db');
const store = openStore(file);
const engine = new StoreEngine(store);
const app = buildApi(engine);
t.teardown(async () => {
  await app.close();
  store.close();
});
const input = (orderId: string) => ({ orderId, customerId: 'cust-1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42 });
for (const orderId of ['o-1', 'o-2']) {
  const { state } = await engine.start({ saga: 'order-fulfillment', input: input(orderId) });
  engine.reply(state.id, 'reserve-inventory', 'InventoryReserved', { reservationId: 'r' });
  engine.reply(state.id, 'charge-payment', 'PaymentCharged', { paymentId: 'p' });
  engine.reply(state.id, 'ship-order', 'OrderShipped', { trackingNumber: 't' });
}
const { state: comp } = await engine.start({ saga: 'order-fulfillment', input: input('o-3') });
engine.reply(comp.id, 'reserve-inventory', 'OutOfStock');
await engine.start({ saga: 'order-fulfillment', input: input('o-4') });
const server = await app.listen({ port: 0, host: '127.0.0.1' });
const since = new Date(t0).toISOString();

t.test('a table per saga: finished, completed and compensated, p50 / p99 and how many', async (t) => {
  const r = await cli(['stats', '--times', '--since', since, '--server', server], { columns: 200 });
  t.equal(r.code, 0, r.err);
  t.match(r.out, `instances started since ${since} that finished`);
  const row = r.out.split('\n').find((l) => l.startsWith('order-fulfillment'));
  t.match(row, /^order-fulfillment\s+3\.00s \/ 3\.00s \(3\)\s+3\.00s \/ 3\.00s \(2\)\s+1\.00s \/ 1\.00s \(1\)$/,
    '1 s, 3 s and 3 s (the test clock moves a second per act); the running instance is not counted');
  const none = await cli(['stats', '--times', '--since', new Date(t0 + 3600_000).toISOString(), '--server', server]);
  t.match(none.out, /No instance finished\./);
});

t.test('-o json is the API document, from the server or read offline', async (t) => {
  const online = JSON.parse((await cli(['stats', '--times', '--since', since, '--server', server, '-o', 'json'])).out) as Record<string, unknown>;
  const offline = JSON.parse((await cli(['stats', '--times', '--since', since, '--db', file, '-o', 'json'])).out) as Record<string, unknown>;
  t.match(online, { since, overall: { count: 3, p50: 3000, p99: 3000, completed: { count: 2 }, compensated: { count: 1, p50: 1000 } } });
  t.strictSame({ ...offline, computedAt: 'x' }, { ...online, computedAt: 'x' }, 'the same figures either way');
  const plain = JSON.parse((await cli(['stats', '--server', server, '-o', 'json'])).out) as Record<string, unknown>;
  t.ok('instances' in plain && !('overall' in plain), 'without --times: the stats document as before');
});
