import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { GroupCommit } from '../../engine/store/group-commit.js';
import { openStore } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';

/**
 * An input alone in its transaction that fails cleanly (a duplicate found by its first
 * statement) commits as it does in a batch. It rolled the transaction back, and the store then
 * forgot every state and command it caches: under light load, each redelivered duplicate made
 * the next steps of every instance replay from snapshot and journal.
 */
function setup(t: { testdir(): string; teardown(fn: () => void): void }, open: () => boolean = () => true) {
  const db = new Database(join(t.testdir(), 'g.db'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE seen (id TEXT PRIMARY KEY)');
  t.teardown(() => db.close());
  const run = db.transaction((fn: () => unknown) => fn());
  const tx = <T>(fn: () => T): T => run.immediate(fn) as T;
  const insert = db.prepare('INSERT INTO seen (id) VALUES (?)');
  const ids = () => db.prepare<[], { id: string }>('SELECT id FROM seen ORDER BY id').all().map((r) => r.id);
  class Clean extends Error {}
  const events: string[] = [];
  const gc = new GroupCommit(tx, () => events.push('committed'), 512, () => events.push('rolled back'), (size) => events.push(`observed ${size}`),
    (e) => e instanceof Clean, open);
  return { gc, insert, ids, Clean, events };
}

t.test('a clean failure alone in its transaction is its outcome, committed, not a rollback', async (t) => {
  const { gc, insert, ids, Clean, events } = setup(t);
  await t.rejects(gc.run(() => {
    throw new Clean('seen before');
  }), /seen before/, 'the input is told its own error');
  t.same(events, ['committed'], 'the transaction committed, not observed as a commit (it wrote nothing); rolledBack was not called');
  t.equal(await gc.run(() => insert.run('a').changes), 1, 'the connection is usable afterwards');
  t.same(ids(), ['a']);
});

t.test('any other failure alone still rolls back whole', async (t) => {
  const { gc, insert, ids, events } = setup(t);
  await t.rejects(gc.run(() => {
    insert.run('b');
    throw new Error('after writing');
  }), /after writing/);
  t.same(events, ['rolled back']);
  t.same(ids(), [], 'its write is undone');
});

t.test('a clean failure alone after SQLite ended the transaction itself still fails as a rollback', async (t) => {
  const { gc, Clean, events } = setup(t, () => false);
  await t.rejects(gc.run(() => {
    throw new Clean('seen before');
  }), /seen before/);
  t.same(events, ['rolled back'], 'nothing may commit in a transaction that is gone');
});

t.test('the store keeps its cached states across a duplicate redelivered alone', async (t) => {
  const root = new URL('../..', import.meta.url).pathname;
  const loaded = loadDefinitionsFile(join(root, 'sagas/order-fulfillment.yaml'));
  if (!loaded.ok) throw new Error('example definitions do not load');
  const store = openStore(join(t.testdir(), 'sagad.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  const engine = new Engine({ store: port, registry: new Registry(loaded.sagas), log: silentLog });
  const { state } = await engine.start({ saga: 'order-fulfillment', input: { orderId: 'o-1', customerId: 'c1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42 } });
  // A state served from the cache is the very object cached; one read after the cache was emptied is a new one.
  const cached = store.getInstance(state.id);
  t.ok(cached !== undefined && store.getInstance(state.id) === cached, 'the started instance is served from the cache');
  t.match(await port.commit({ messageId: 'm-1', firedTimer: null, changes: [] }), { status: 'committed' }, 'the first delivery is remembered');
  t.equal(store.getInstance(state.id), cached, 'still cached after a commit');
  t.same(await port.commit({ messageId: 'm-1', firedTimer: null, changes: [] }), { status: 'duplicate' }, 'the redelivery is a duplicate');
  t.equal(store.getInstance(state.id), cached, 'still cached after the duplicate: no rollback emptied the cache');
});
