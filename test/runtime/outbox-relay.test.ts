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
      unsentBySeq: async (s: readonly number[]) => store.unsentBySeq(s),
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

t.test('past 10,000 queued rows the relay reads the table instead; a row never handed over is found when idle', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder();
  const relay = new OutboxRelay(sqlitePort(store), rec.publish, (err) => t.fail(String(err)));
  relay.start();
  await until(() => store.backlog() === 0, 'the first (empty) read of the table');
  const many = store.tx(() => store.enqueue(Array.from({ length: 10_050 }, (_, i) => msg(`m-${i}`))));
  relay.push(many);
  await until(() => rec.published.length === 10_050, 'all rows of the oversized commit');
  t.same(rec.published, many.map((r) => r.messageId), 'in seq order, each once');

  // Written without a push (as no code path does): the idle read of the table, after 5 s, finds it.
  store.tx(() => store.enqueue([msg('stray')]));
  await until(() => rec.published.includes('stray'), 'the row nobody handed over');
  await relay.stop();
  t.equal(store.backlog(), 0);
});

/** A recorder that also keeps each publish call's batch, to see what was acknowledged before what. */
function batches() {
  const rec = recorder();
  const calls: string[][] = [];
  const publish: Publisher = async (items) => {
    calls.push(items.map((it) => it.msgId));
    return rec.publish(items);
  };
  return { ...rec, calls, publish };
}

/** The counted store, also counting the reads of rows to publish first. */
function countedAll(store: Store) {
  const { c, source } = counted(store);
  const fetched: number[][] = [];
  return { c, fetched, source: { ...source, unsentBySeq: async (s: readonly number[]) => { fetched.push([...s]); return store.unsentBySeq(s); } } };
}

t.test('a row that follows an older unsent row of its instance it does not hold: that row goes out first, acknowledged in a batch of its own', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = batches();
  const { c, source, fetched } = countedAll(store);
  // No idle read of the table during the test: only the follow can bring the older row out.
  const relay = new OutboxRelay(source, rec.publish, (err) => t.fail(String(err)), { idleScanMs: 600_000 });
  relay.start();
  await until(() => c.reads === 1, 'the first read of the table');
  await sleep(20);
  // Committed by another replica, which died before sending it: never handed to this relay.
  const [theirs] = store.tx(() => store.enqueue([msg('their-do')]));
  if (theirs === undefined) throw new Error('not enqueued');
  const mine = store.tx(() => store.enqueue([msg('my-undo'), msg('my-event')]));
  relay.push(mine.map((r, i) => (i === 0 ? { ...r, follows: [theirs.seq] } : r)));
  await until(() => rec.published.length === 3, 'the older row and the new ones');
  t.same(rec.published, ['their-do', 'my-undo', 'my-event'], 'the older row first, under its own id');
  t.same(rec.calls, [['their-do'], ['my-undo', 'my-event']], 'acknowledged before the new rows were sent');
  t.same(fetched, [[theirs.seq]], 'read from the table by seq, once');
  await until(() => store.backlog() === 0, 'the marks');
  await relay.stop();
});

t.test('a followed row this relay holds, or one already sent, is not published again', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => { release = r; });
  const rec = batches();
  const slow: Publisher = async (items) => {
    await gate;
    return rec.publish(items);
  };
  const { c, source, fetched } = countedAll(store);
  const relay = new OutboxRelay(source, slow, (err) => t.fail(String(err)), { idleScanMs: 600_000 });
  relay.start();
  await until(() => c.reads === 1, 'the first read of the table');
  const [a] = store.tx(() => store.enqueue([msg('a-do')]));
  if (a === undefined) throw new Error('not enqueued');
  relay.push([a]);
  // Still in flight (the publisher waits) when the next row of the instance follows it.
  const [b] = store.tx(() => store.enqueue([msg('a-undo')]));
  if (b === undefined) throw new Error('not enqueued');
  relay.push([{ ...b, follows: [a.seq] }]);
  release();
  await until(() => rec.published.length === 2, 'both rows');
  await until(() => store.backlog() === 0, 'the marks');
  // Sent and marked: a later row that (from a stale read) follows it does not bring it back.
  const [d] = store.tx(() => store.enqueue([msg('a-event')]));
  if (d === undefined) throw new Error('not enqueued');
  relay.push([{ ...d, follows: [b.seq] }]);
  await until(() => rec.published.length === 3, 'the third row');
  await relay.stop();
  t.same(rec.published, ['a-do', 'a-undo', 'a-event'], 'each once, in order');
  t.same(fetched, [[b.seq]], 'the held row was not read back; the sent one was asked for and found sent');
});
