/**
 * The store side of the early-event sweep (issue 12, after review), on both adapters (a SQLite
 * file and a real PostgreSQL 15): the deliverable events come page by page after a cursor, so
 * that the sweep gets past events a running wait does not take; and an expired event is
 * dead-lettered only by the statement that forgets it, so one delivered meanwhile is not
 * dead-lettered as well.
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { EarlyEvent } from '../../engine/store/early-events.js';
import { openPostgresStore } from '../../engine/store/postgres/index.js';
import type { StorePort } from '../../engine/store/port.js';
import { openSqlitePort } from '../../engine/store/sqlite-port.js';
import { startPostgres } from '../helpers/postgres.js';
import { changeOf, committed, decision, reply, started, TestEnv, writeOf } from './contract/writes.js';

function early(id: string, eventId: string, keptAt: number): EarlyEvent {
  return {
    instanceId: id, eventId, subject: 'orders.approvals', type: 'OrderApproved', keptAt, expiresAt: 10_000,
    headers: { 'Nats-Msg-Id': eventId }, data: new Uint8Array([1, 2, eventId.length]),
  };
}

const approval = { subject: 'orders.approvals', type: 'OrderApproved', correlationId: null };

async function scenarios(t: Test, open: () => Promise<StorePort>): Promise<void> {
  t.test('deliverable early events come once each, in (keptAt, instance, event) order, after the cursor', async (t) => {
    const port = await open();
    t.teardown(() => port.close());
    const env = new TestEnv();
    for (const id of ['i-1', 'i-2', 'i-3']) {
      const s = await started(port, env, id);
      env.now += 10;
      // i-1 runs two wait steps on the event: still one row per kept event.
      const put = id === 'i-1' ? [{ step: 'approve', ...approval }, { step: 'approve-again', ...approval }] : [{ step: 'approve', ...approval }];
      await committed(port, writeOf(`r-${id}`, changeOf(s.version, decision(env, s, reply(s, 'reserve', 'Done', env)), { put, remove: [] })));
    }
    for (const e of [early('i-1', 'e-b', 2_000), early('i-3', 'e-d', 1_500), early('i-2', 'e-c', 1_000), early('i-1', 'e-a', 1_000), early('nobody', 'e-x', 1_000)]) {
      await port.keepEarlyEvent(e, 10);
    }
    const page = async (after: EarlyEvent | null): Promise<string[]> => (await port.earlyEventsDue(5_000, 2, after)).deliverable.map((e) => e.eventId);
    t.same(await page(null), ['e-a', 'e-c'], 'the first page');
    const first = (await port.earlyEventsDue(5_000, 2)).deliverable;
    t.same(await page(first[1] ?? null), ['e-d', 'e-b'], 'the next, after the last of the first');
    const second = (await port.earlyEventsDue(5_000, 2, first[1])).deliverable;
    t.same(await page(second[1] ?? null), [], 'then none');
    t.same(await page(first[0] ?? null), ['e-c', 'e-d'], 'ties on keptAt ordered by instance');
    t.same((await port.earlyEventsDue(5_000, 10)).deliverable.map((e) => e.eventId), ['e-a', 'e-c', 'e-d', 'e-b'], 'all, each once');
  });

  t.test('an expired early event is dead-lettered as it is forgotten, and only if it was still kept', async (t) => {
    const port = await open();
    t.teardown(() => port.close());
    const letter = (reason: string) => ({ subject: 'orders.approvals', reason, headers: { 'Nats-Msg-Id': 'e-1' }, data: new Uint8Array([7, 8]), deliveryCount: 1, at: 20_000 });
    await port.keepEarlyEvent(early('i-1', 'e-1', 1_000), 10);
    t.equal(await port.parkEarlyEvent('i-1', 'e-1', letter('expired'), 'dead-letter/early/i-1/e-1'), true, 'kept: parked');
    t.same(await port.earlyEventsOf('i-1'), [], 'and forgotten');
    t.match((await port.listDead()).items, [{ subject: 'orders.approvals', reason: 'expired' }]);
    t.equal(await port.parkEarlyEvent('i-1', 'e-1', letter('again'), 'dead-letter/early/i-1/e-1'), false, 'a second park of it finds it gone');

    await port.keepEarlyEvent(early('i-2', 'e-2', 1_000), 10);
    await port.dropEarlyEvent('i-2', 'e-2');
    t.equal(await port.parkEarlyEvent('i-2', 'e-2', letter('delivered meanwhile'), 'dead-letter/early/i-2/e-2'), false, 'delivered (dropped) meanwhile: not parked');

    await port.keepEarlyEvent(early('i-3', 'e-3', 1_000), 10);
    await port.park(letter('parked before'), 'dead-letter/early/i-3/e-3');
    t.equal(await port.parkEarlyEvent('i-3', 'e-3', letter('twice'), 'dead-letter/early/i-3/e-3'), false, 'parked before under its delivery id: forgotten, not parked again (nothing to count)');
    t.same(await port.earlyEventsOf('i-3'), []);
    t.same((await port.listDead()).items.map((l) => l.reason), ['parked before', 'expired'], 'one letter per delivery id');
  });
}

let n = 0;

t.test('sqlite', async (t) => {
  await scenarios(t, async () => openSqlitePort(join(t.testdir(), `e-${++n}.db`)));
});

t.test('postgres', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  await scenarios(t, async () => openPostgresStore(await server.createDatabase()));
});
