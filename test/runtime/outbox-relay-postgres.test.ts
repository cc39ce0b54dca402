import { setTimeout as sleep } from 'node:timers/promises';
import { until } from '../helpers/until.js';
import t, { type Test } from 'tap';
import { OutboxRelay, type Publisher } from '../../engine/runtime/outbox-relay.js';
import type { StorePort } from '../../engine/store/port.js';
import { openPostgresStore } from '../../engine/store/postgres/index.js';
import { startPostgres } from '../helpers/postgres.js';
import { changeOf, committed, decision, reply, started, TestEnv, writeOf } from '../store/contract/writes.js';

/**
 * The relay over the real PostgreSQL adapter, two adapters on one database standing for two
 * replicas: rows one of them committed and never sent (it died) go out before the rows the
 * other commits for the same instance, whether the relay gets its rows handed over by the
 * commit or reads them from the table. The publisher records each call's batch (the
 * end-to-end test, replica-order.test.ts, runs the same against nats-server).
 */
const server = await startPostgres();
t.teardown(() => server.stop());

async function replicas(t: Test): Promise<[StorePort, StorePort]> {
  const db = await server.createDatabase();
  const a = await openPostgresStore(db);
  const b = await openPostgresStore(db);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  return [a, b];
}

function recorder() {
  const calls: string[][] = [];
  const publish: Publisher = async (items) => {
    calls.push(items.map((it) => it.msgId));
    return items.map((_, i) => ({ ok: true as const, ack: { stream: 'S', seq: calls.length * 1000 + i, duplicate: false, domain: '' } }));
  };
  return { calls, publish };
}


t.test('a commit whose instance has a dead replica\'s unsent row: that row is published first, as a batch of its own', async (t) => {
  const [a, b] = await replicas(t);
  const env = new TestEnv();
  // Replica a commits the start and dies before sending it.
  const s = await started(a, env, 'i-1');
  const [theirs] = await b.claimUnsent(10, Date.now() + 1000, 0);
  if (theirs === undefined) throw new Error('no row');
  const rec = recorder();
  // Orphans only after a minute: nothing but the follow can bring a's row out now.
  const relay = new OutboxRelay(b, rec.publish, (err) => t.fail(String(err)), { orphanAfterMs: 60_000, idleScanMs: 600_000 });
  relay.start();
  await sleep(50);
  const d = decision(env, s, reply(s, 'reserve', 'Done', env));
  const mine = await committed(b, writeOf('m-1', changeOf(s.version, d)));
  t.same(mine.outbox[0]?.follows, [theirs.seq], 'the commit names the older unsent row');
  relay.push(mine.outbox);
  await until(() => rec.calls.flat().length === 1 + mine.outbox.length, 'both', { everyMs: 10 });
  t.same(rec.calls, [[theirs.messageId], mine.outbox.map((r) => r.messageId)], 'the dead replica\'s row first, acknowledged before the new ones');
  await until(async () => (await b.gauges()).outboxBacklog === 0, 'the marks', { everyMs: 10 });
  await relay.stop();
});

t.test('rows read from the table whose instance has an older row claimed by another replica: that row first', async (t) => {
  const [a, b] = await replicas(t);
  const env = new TestEnv();
  const s = await started(a, env, 'i-1');
  // Replica a claimed its row (its orphan sweep, say) and went silent.
  const [theirs] = await a.claimUnsent(10, Date.now() + 1000, 60_000);
  if (theirs === undefined) throw new Error('no row');
  const d = decision(env, s, reply(s, 'reserve', 'Done', env));
  const mine = await committed(b, writeOf('m-1', changeOf(s.version, d)));
  // Replica b restarts before handing its rows over: its relay reads them from the table.
  const rec = recorder();
  const relay = new OutboxRelay(b, rec.publish, (err) => t.fail(String(err)), { orphanAfterMs: 0, idleScanMs: 600_000 });
  relay.start();
  await until(() => rec.calls.flat().length === 1 + mine.outbox.length, 'both', { everyMs: 10 });
  t.same(rec.calls, [[theirs.messageId], mine.outbox.map((r) => r.messageId)], 'the claimed older row first, under its own id');
  await until(async () => (await b.gauges()).outboxBacklog === 0, 'the marks', { everyMs: 10 });
  await relay.stop();
});

t.test('an orphan adopted while this relay holds an older row of its instance goes out after that row', async (t) => {
  const [a, b] = await replicas(t);
  const env = new TestEnv();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => { release = r; });
  const rec = recorder();
  const held: Publisher = async (items) => {
    await gate;
    return rec.publish(items);
  };
  // Orphans after 50 ms, looked for every 50 ms: the sweep runs as soon as the publisher answers.
  const relay = new OutboxRelay(b, held, (err) => t.fail(String(err)), { orphanAfterMs: 50, idleScanMs: 50 });
  relay.start();
  await sleep(100);
  // b's first row is in flight (the publisher waits); its row for i-1 waits in the queue.
  await started(b, env, 'i-0');
  const [z] = await b.claimUnsent(10, Date.now() + 1000, 0);
  if (z === undefined) throw new Error('no row');
  relay.push([{ ...z }]);
  await sleep(50);
  const s = await started(b, env, 'i-1');
  const mine = (await b.claimUnsent(10, Date.now() + 1000, 0)).filter((r) => r.seq !== z.seq);
  relay.push(mine);
  // Replica a commits the next row of i-1 and dies before sending it (its own relay would have sent b's row first).
  const d = decision(env, s, reply(s, 'reserve', 'Done', env));
  const theirs = await committed(a, writeOf('m-1', changeOf(s.version, d)));
  t.same(theirs.outbox[0]?.follows, mine.map((r) => r.seq), 'a\'s row follows b\'s');
  await sleep(200);
  release();
  const want = [z, ...mine, ...theirs.outbox].map((r) => r.messageId);
  await until(() => rec.calls.flat().length >= want.length, 'every row', { everyMs: 10 });
  t.same(rec.calls.flat().filter((id) => id !== z.messageId), want.slice(1), 'b\'s row of i-1 before a\'s orphan, each once');
  await until(async () => (await b.gauges()).outboxBacklog === 0, 'the marks', { everyMs: 10 });
  await relay.stop();
});
