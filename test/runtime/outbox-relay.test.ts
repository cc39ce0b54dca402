import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { Engine } from '../../engine/runtime/engine.js';
import { OutboxRelay, type Publisher } from '../../engine/runtime/outbox-relay.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type OutboxMessage, type OutboxRow, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { silentLog } from '../../engine/log.js';
import type { PublishItem } from '../../engine/transport/publish.js';

/**
 * The relay against a real SQLite outbox. The publisher is the relay's seam to JetStream
 * (the end-to-end tests run it against nats-server); here it records what it was given and
 * can refuse messages, as JetStream does when it is unavailable.
 */
function recorder(refuse: (item: PublishItem, attempt: number) => boolean = () => false) {
  const published: string[] = [];
  const attempts = new Map<string, number>();
  const publish: Publisher = async (items) => items.map((it) => {
    const n = (attempts.get(it.msgId) ?? 0) + 1;
    attempts.set(it.msgId, n);
    if (refuse(it, n)) return { ok: false as const, error: new Error(`refused ${it.msgId}`) };
    published.push(it.msgId);
    return { ok: true as const, ack: { stream: 'S', seq: published.length, duplicate: false, domain: '' } };
  });
  return { published, attempts, publish };
}

const msg = (id: string): OutboxMessage => ({ messageId: id, subject: 'a.commands', headers: { 'Saga-Id': 's' }, data: new Uint8Array([1, 2, 3]) });

/** Resolves once `cond` holds (the relay works in the background; polled every 5 ms). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The store, counting how often the relay reads the table. */
function counted(store: Store) {
  const c = { reads: 0 };
  return {
    c,
    source: {
      claimUnsent: async (n: number, before: number) => { c.reads++; return store.unsent(n, before); },
      markSent: async (s: readonly number[], at: number) => store.markSent(s, at),
    },
  };
}

t.test('rows in the table at start, then rows handed over by commits: published in order, marked sent', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  store.enqueue([msg('old-1'), msg('old-2')]);
  const rec = recorder();
  const { c, source } = counted(store);
  const relay = new OutboxRelay(source, rec.publish, (err) => t.fail(String(err)));
  relay.start();
  await until(() => rec.published.length === 2, 'the rows already in the table');
  const readsAfterStart = c.reads;

  for (let i = 0; i < 50; i++) relay.push(store.tx(() => store.enqueue([msg(`m-${i}-a`), msg(`m-${i}-b`)])));
  await until(() => rec.published.length === 102, 'the pushed rows');
  t.same(rec.published, ['old-1', 'old-2', ...Array.from({ length: 50 }, (_, i) => [`m-${i}-a`, `m-${i}-b`]).flat()], 'in seq order, each once');
  t.equal(c.reads, readsAfterStart, 'pushed rows are not read back from the table');
  await until(() => store.backlog() === 0, 'the marks');
  await relay.stop();
});

t.test('a refused message is retried from the table, after the ones acknowledged are marked', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const errors: string[] = [];
  const rec = recorder((it, attempt) => it.msgId === 'm-3' && attempt <= 2);
  const relay = new OutboxRelay(sqlitePort(store), rec.publish, (err) => errors.push(String(err)));
  relay.start();
  for (let i = 0; i < 6; i++) relay.push(store.tx(() => store.enqueue([msg(`m-${i}`)])));
  await until(() => rec.published.includes('m-3') && rec.published.length === 6, 'every row, m-3 on its third attempt');
  t.equal(rec.attempts.get('m-3'), 3);
  t.same([...rec.attempts.entries()].filter(([id, n]) => id !== 'm-3' && n !== 1), [], 'no other message was sent twice');
  t.equal(errors.length, 2, 'each refusal reported');
  await relay.stop();
  t.equal(store.backlog(), 0, 'all marked sent once stopped');
});

t.test('stop with a flush publishes what is queued and writes the marks before it returns', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder();
  const relay = new OutboxRelay(sqlitePort(store), rec.publish, (err) => t.fail(String(err)));
  relay.start();
  relay.push(store.tx(() => store.enqueue(Array.from({ length: 600 }, (_, i) => msg(`m-${i}`)))));
  await relay.stop(5000);
  t.equal(rec.published.length, 600);
  t.equal(store.backlog(), 0);
});

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

t.test('past 10,000 queued rows the relay reads the table instead of queueing them', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder();
  const { c, source } = counted(store);
  const relay = new OutboxRelay(source, rec.publish, (err) => t.fail(String(err)));
  relay.start();
  await until(() => c.reads === 1, 'the first (empty) read of the table');
  relay.push(store.tx(() => store.enqueue([msg('small')])));
  await until(() => rec.published.length === 1, 'a commit of one row');
  t.equal(c.reads, 1, 'a small commit is queued, not read back');
  const many = store.tx(() => store.enqueue(Array.from({ length: 10_050 }, (_, i) => msg(`m-${i}`))));
  relay.push(many);
  await until(() => rec.published.length === 10_051, 'all rows of the oversized commit');
  t.same(rec.published.slice(1), many.map((r) => r.messageId), 'in seq order, each once');
  t.ok(c.reads >= 2, `the oversized commit was read from the table (${c.reads} reads)`);
  await relay.stop();
  t.equal(store.backlog(), 0);
});

t.test('a row never handed over is found by the idle read of the table', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder();
  const { c, source } = counted(store);
  const relay = new OutboxRelay(source, rec.publish, (err) => t.fail(String(err)), { idleScanMs: 100 });
  relay.start();
  await until(() => c.reads >= 1, 'the first (empty) read of the table');
  // Written without a push (as no code path does): the idle read of the table finds it.
  store.tx(() => store.enqueue([msg('stray')]));
  await until(() => rec.published.includes('stray'), 'the row nobody handed over');
  await relay.stop();
  t.equal(store.backlog(), 0);
});
