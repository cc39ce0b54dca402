import { join } from 'node:path';
import t from 'tap';
import type { TimerRef } from '../../engine/core/index.js';
import { openStore } from '../../engine/store/index.js';
import { startInstance, TestEnv } from './fixtures/saga.js';

const retry = (attempt: number): TimerRef => ({ kind: 'retry', step: 'charge', attempt });

t.test('timers: due ones earliest first, upsert by id, delete, next due time', async (t) => {
  const store = openStore(join(t.testdir(), 't.db'));
  t.teardown(() => store.close());
  const env = new TestEnv();
  // Each start schedules a deadline and a first attempt timeout; clear them for a clean slate.
  for (const id of ['i-1', 'i-2']) {
    startInstance(store, env, id);
    for (const r of store.dueTimers(Number.MAX_SAFE_INTEGER, 10)) store.deleteTimer(r.instanceId, r.timerId);
  }
  t.equal(store.timerCount(), 0);
  t.equal(store.nextDueAt(), null);

  store.putTimer('i-1', 'retry:charge:1', 300, retry(1));
  store.putTimer('i-2', 'deadline', 100, { kind: 'deadline' });
  store.putTimer('i-1', 'deadline', 200, { kind: 'deadline' });
  store.putTimer('i-2', 'retry:charge:1', 200, retry(1));
  t.equal(store.timerCount(), 4);
  t.equal(store.nextDueAt(), 100);

  t.same(store.dueTimers(99, 10), []);
  t.same(store.dueTimers(200, 10), [
    { instanceId: 'i-2', timerId: 'deadline', dueAt: 100, data: { kind: 'deadline' } },
    { instanceId: 'i-1', timerId: 'deadline', dueAt: 200, data: { kind: 'deadline' } },
    { instanceId: 'i-2', timerId: 'retry:charge:1', dueAt: 200, data: retry(1) },
  ], 'ordered by due time, then instance and timer id');
  t.same(store.dueTimers(1000, 2).map((r) => r.dueAt), [100, 200]);

  store.putTimer('i-2', 'deadline', 500, { kind: 'deadline' });
  t.equal(store.timerCount(), 4, 'the same id replaces');
  t.equal(store.nextDueAt(), 200);
  t.same(store.dueTimers(500, 10).at(-1), { instanceId: 'i-2', timerId: 'deadline', dueAt: 500, data: { kind: 'deadline' } });

  store.deleteTimer('i-1', 'deadline');
  store.deleteTimer('i-1', 'deadline');
  t.same(store.dueTimers(1000, 10).map((r) => `${r.instanceId}/${r.timerId}`), ['i-2/retry:charge:1', 'i-1/retry:charge:1', 'i-2/deadline']);
  t.throws(() => store.putTimer('ghost', 'deadline', 1, { kind: 'deadline' }), { code: 'SAGA_ERR_NOT_FOUND' }, 'a timer needs its instance');
  t.same(store.timersOf('ghost'), []);
  t.equal(store.timerCount(), 3);
  t.notOk(store.consumeTimer('i-2', 'deadline', 100), 'a timer moved since is not consumed at its old time');
  t.ok(store.consumeTimer('i-2', 'deadline', 500));
  t.notOk(store.consumeTimer('i-2', 'deadline', 500), 'consumed once');
  t.same(store.timersOf('i-2').map((r) => r.timerId), ['retry:charge:1']);
});
