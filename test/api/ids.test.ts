import { join } from 'node:path';
import t from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { MAX_ID_LENGTH } from '../../engine/json-bounds.js';
import { openStore } from '../../engine/store/index.js';
import { StoreEngine } from './store-engine.js';

const order = (orderId: string) => ({ input: { orderId, customerId: 'cust-1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42 } });

/** Every instance id a start accepts can be named in the API's paths afterwards (`.` and `..`, which no path can name, are refused by the start itself: test/runtime/follow-up-events.test.ts). */
t.test('an id of the longest length, percent-encoded, is reachable by its path', async (t) => {
  const store = openStore(join(t.testdir(), 'api.db'));
  const app = buildApi(new StoreEngine(store));
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  for (const id of ['x'.repeat(MAX_ID_LENGTH), 'é'.repeat(MAX_ID_LENGTH), '😀'.repeat(MAX_ID_LENGTH / 2)]) {
    const started = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', payload: { ...order(`o-${id.length}-${id.codePointAt(0)}`), id } });
    t.equal(started.statusCode, 201, `started: ${id.slice(0, 4)}... (${id.length})`);
    const got = await app.inject({ method: 'GET', url: `/v1/instances/${encodeURIComponent(id)}` });
    t.equal(got.statusCode, 200, 'and found by its path');
    t.equal(got.json<{ id: string }>().id, id);
  }
});
