import { join } from 'node:path';
import t from 'tap';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type OutboxRow } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';

/**
 * What the engine hands the outbox relay (engine/runtime/engine.ts, `relay.push`): the rows of
 * commits only. Apart from the relay's own tests (outbox-relay.test.ts), so that mutating the
 * relay does not run the engine, nor mutating the engine the relay's slower tests.
 */
t.test('the engine hands over only rows that committed: a write that lost its race never reaches the relay', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const loaded = loadDefinitionsFile(join(new URL('../..', import.meta.url).pathname, 'sagas/order-fulfillment.yaml'));
  if (!loaded.ok) throw new Error('example definitions do not load');
  const handed: OutboxRow[] = [];
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(loaded.sagas), log: silentLog, relay: { push: (rows) => handed.push(...rows) } });
  const input = { orderId: 'o-1', customerId: 'c', items: [{ sku: 's', quantity: 1 }], total: 1, shippingAddress: { city: 'x', zip: 'y' } };
  // Same key, different ids, in one shared commit: the second savepoint rolls back (the key is taken), then finds the first.
  const [a, b] = await Promise.all([
    engine.start({ saga: 'order-fulfillment', input, id: 'i-a' }),
    engine.start({ saga: 'order-fulfillment', input, id: 'i-b' }),
  ]);
  t.same([a.created, b.created, b.state.id], [true, false, 'i-a'], 'one instance; the loser of the race returns it');
  t.ok(handed.length >= 2, `the committed start queued its command and lifecycle event (${handed.length})`);
  t.same(handed.map((r) => r.seq), store.unsent(100).map((r) => r.seq), 'exactly the rows in the table, with their seqs');
  t.equal(store.getInstance('i-b'), undefined);
});
