/**
 * An event reaches the wait steps of its own correlation id and those whose `match` decides,
 * not every instance waiting for its type (engine/runtime/engine.ts `receive`, the stores'
 * `waiting`): with many orders waiting for their Delivered, one Delivered reads the one
 * instance it concerns. On both store adapters (a SQLite file and a real PostgreSQL 15).
 */
import type { Test } from 'tap';
import { Engine, type Incoming } from '../../engine/runtime/engine.js';
import { silentLog } from '../../engine/log.js';
import { Registry } from '../../engine/runtime/registry.js';
import type { StorePort } from '../../engine/store/port.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';
import { onBothStores } from '../helpers/both-stores.js';

const sagas = sagasOf(`
sagas:
  - name: delivery
    steps:
      - name: delivered
        timeout: 1h
        wait: { subject: shipping.events, type: Delivered }
  - name: audit
    steps:
      - name: eu-delivery
        timeout: 1h
        wait: { subject: shipping.events, type: Delivered, match: "{% $.payload.region = 'eu' %}" }
`);

const ORDERS = 30;
let n = 0;
const delivered = (correlationId: string, region: string): Incoming => {
  const eventId = `e-${++n}`;
  return {
    subject: 'shipping.events', eventId, eventType: 'Delivered', correlationId, causationId: '', aggregateId: 'a', version: 1,
    payload: { region }, envelope: { eventId },
  };
};

async function scenarios(t: Test, open: () => Promise<StorePort>): Promise<void> {
  t.test('one Delivered reads its own order and the audit whose match decides, not the other orders', async (t) => {
    const store = await open();
    // The instances the engine reads while deciding an input.
    const read = new Set<string>();
    const engine = new Engine({
      store: { ...store, getInstance: (id) => (read.add(id), store.getInstance(id)) }, registry: new Registry(sagas), log: silentLog,
    });
    for (let i = 0; i < ORDERS; i++) await engine.start({ saga: 'delivery', input: {}, id: `order-${i}`, correlationId: `c-${i}` });
    await engine.start({ saga: 'audit', input: {}, id: 'audit', correlationId: 'audit' });

    read.clear();
    t.equal(await engine.receive(delivered('c-7', 'us')), 'event');
    t.same([...read].sort(), ['audit', 'order-7'], 'its order and the audit, whose match said no');
    t.equal((await store.getInstance('order-7'))?.status, 'completed');
    t.equal((await store.getInstance('order-8'))?.steps.delivered?.status, 'running', 'another order still waits');
    t.equal((await store.getInstance('audit'))?.status, 'running');

    read.clear();
    t.equal(await engine.receive(delivered('c-8', 'eu')), 'event');
    t.same([...read].sort(), ['audit', 'order-8']);
    t.same([(await store.getInstance('order-8'))?.status, (await store.getInstance('audit'))?.status], ['completed', 'completed'],
      'both took it: the order by its correlation id, the audit by its match');

    read.clear();
    t.equal(await engine.receive(delivered('c-none', 'eu')), 'unrelated', 'no wait of its correlation id, and the audit has ended');
    t.same([...read], [], 'nothing read');
    t.equal((await store.waiting('shipping.events', 'Delivered', 'c-9')).length, 1, 'order-9 still found by its own');
  });
}

onBothStores(scenarios);
