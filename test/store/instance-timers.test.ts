import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { editTimers, isNoEdit, parseTimers, timerColumns, type PendingTimer } from '../../engine/store/instance-timers.js';
import { openStore } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { startInstance, TestEnv } from './fixtures/saga.js';

const deadline = (dueAt: number): PendingTimer => ({ timerId: 'deadline', dueAt, data: { kind: 'deadline' } });
const attempt = (dueAt: number, n = 1): PendingTimer => ({ timerId: `retry:charge:${n}`, dueAt, data: { kind: 'retry', step: 'charge', attempt: n } });

t.test('editTimers: cancels, then puts (a put replaces the same id), earliest first, ties by id', async (t) => {
  t.same(editTimers([], { put: [deadline(9), attempt(3)], cancel: [] }), [attempt(3), deadline(9)]);
  t.same(editTimers([attempt(3), deadline(9)], { put: [deadline(1)], cancel: [] }), [deadline(1), attempt(3)], 'moved, not duplicated');
  t.same(editTimers([attempt(3), deadline(9)], { put: [], cancel: ['retry:charge:1', 'unknown'] }), [deadline(9)]);
  t.same(editTimers([attempt(3)], { put: [attempt(5)], cancel: ['retry:charge:1'] }), [attempt(5)], 'a cancel and a put of one id in one input leaves the put');
  t.same(editTimers([], { put: [deadline(4), attempt(4)], cancel: [] }).map((x) => x.timerId), ['deadline', 'retry:charge:1'], 'equal due times by id');
});

t.test('timerColumns: the JSON and the earliest due time, both null when none; parseTimers reads it back', async (t) => {
  t.same(timerColumns([]), { json: null, dueAt: null });
  const cols = timerColumns([attempt(3), deadline(9)]);
  t.equal(cols.dueAt, 3);
  t.same(parseTimers(cols.json), [attempt(3), deadline(9)]);
  t.same(parseTimers(null), []);
  t.ok(isNoEdit(undefined));
  t.ok(isNoEdit({ put: [], cancel: [] }));
  t.notOk(isNoEdit({ put: [], cancel: ['deadline'] }));
});

t.test('through the port: a step arms and cancels in its row, due_at follows the earliest, a fired timer is consumed once', async (t) => {
  const file = join(t.testdir(), 'sagad.db');
  const store = openStore(file);
  const port = sqlitePort(store);
  t.teardown(() => port.close());
  const env = new TestEnv();
  const s = startInstance(store, env, 'i-1');
  const raw = new Database(file, { readonly: true });
  t.teardown(() => raw.close());
  const row = () => raw.prepare<[], { timers: string | null; due_at: number | null }>("SELECT timers, due_at FROM instances WHERE id = 'i-1'").get();
  const armed = store.timersOf('i-1');
  t.ok(armed.length > 0, 'the start armed timers');
  t.equal(row()?.due_at, armed[0]?.dueAt, 'due_at is the earliest');

  const next = { ...s, version: s.version, updatedAt: s.updatedAt + 1 };
  const change = (cancel: string[], put: PendingTimer[], version: number) => ({
    messageId: null, firedTimer: null, changes: [{
      expectedVersion: version, state: { ...next, version }, events: [], outbox: [],
      timers: { put, cancel }, commands: [], waits: { put: [], remove: [] },
    }],
  });
  t.equal((await port.commit(change(armed.map((a) => a.timerId), [attempt(50, 2), deadline(70)], s.version))).status, 'committed');
  t.same(store.timersOf('i-1'), [{ instanceId: 'i-1', ...attempt(50, 2) }, { instanceId: 'i-1', ...deadline(70) }]);
  t.equal(row()?.due_at, 50);
  t.equal(await port.nextDueAt(), 50);
  t.same((await port.claimDueTimers(60, 10, 0)).map((r) => r.timerId), ['retry:charge:2']);

  const fire = { ...change([], [], s.version), firedTimer: { instanceId: 'i-1', timerId: 'retry:charge:2', dueAt: 50 } };
  t.equal((await port.commit(fire)).status, 'committed');
  t.equal((await port.commit(fire)).status, 'duplicate', 'fired once');
  t.equal(row()?.due_at, 70);
  t.same((await port.timersOf('i-1')).map((r) => r.timerId), ['deadline']);

  // A write that loses its race leaves the timers as they were, in the row and in the cache.
  const lost = change(['deadline'], [], s.version + 99);
  t.equal((await port.commit({ ...lost, firedTimer: { instanceId: 'i-1', timerId: 'deadline', dueAt: 70 } })).status, 'conflict');
  t.same((await port.timersOf('i-1')).map((r) => r.timerId), ['deadline'], 'the conflicting write consumed nothing');
  t.equal(row()?.due_at, 70);

  t.equal((await port.commit(change(['deadline'], [], s.version))).status, 'committed');
  t.same(row(), { timers: null, due_at: null }, 'no timer: both columns null, out of the partial index');
  t.equal(await port.nextDueAt(), null);
});

t.test('the timer service reads the partial due_at index, not the instances', async (t) => {
  const file = join(t.testdir(), 'sagad.db');
  openStore(file).close();
  const raw = new Database(file, { readonly: true });
  t.teardown(() => raw.close());
  const plan = (sql: string) => raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => (r as { detail: string }).detail).join('; ');
  const due = plan('SELECT id, timers FROM instances WHERE due_at IS NOT NULL AND due_at <= 5 ORDER BY due_at, id LIMIT 10');
  t.match(due, /USING INDEX instances_due/);
  t.notMatch(due, /TEMP B-TREE/, 'in index order: a backlog of due timers is not sorted at every claim');
  t.match(plan('SELECT min(due_at) AS at FROM instances WHERE due_at IS NOT NULL'), /instances_due/);
});
