import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { decide, isRejection, type InstanceState } from '../../engine/core/index.js';
import { openStore } from '../../engine/store/index.js';
import { compensateAll, feed, reply, saga, startInstance, TestEnv } from './fixtures/saga.js';

/** The row as SQLite holds it and the state the database gives for it, read through a second connection (no cache). */
function rowOf(file: string, id: string): { status: string; version: number; state: InstanceState | undefined } | undefined {
  const raw = new Database(file, { readonly: true });
  const reader = openStore(file, { readonly: true });
  try {
    const r = raw.prepare<[string], { status: string; version: number }>('SELECT status, version FROM instances WHERE id = ?').get(id);
    return r === undefined ? undefined : { status: r.status, version: r.version, state: reader.getInstance(id) };
  } finally {
    reader.close();
    raw.close();
  }
}

t.test('a state saved in a transaction that rolls back is not served from memory afterwards', async (t) => {
  const file = join(t.testdir(), 'c.db');
  const store = openStore(file);
  t.teardown(() => store.close());
  const env = new TestEnv();
  const a = startInstance(store, env, 'i-a');
  const d = decide(saga, a, reply(a, 'reserve', 'Done', env), env);
  if (isRejection(d)) throw new Error(d.rejected.message);

  t.throws(() => store.tx(() => {
    store.append(a.id, a.version, d.events);
    store.saveInstance(d.state);
    t.equal(store.getInstance(a.id)?.version, d.state.version, 'inside the transaction the new state is seen');
    throw new Error('input failed after saving');
  }), /input failed/);
  t.strictSame(store.getInstance(a.id), a, 'after the rollback, the state before it');
  t.strictSame(rowOf(file, a.id)?.state, a);

  // A savepoint that rolls back inside a transaction that commits (what group commit does).
  store.tx(() => {
    t.throws(() => store.tx(() => {
      store.append(a.id, a.version, d.events);
      store.saveInstance(d.state);
      throw new Error('this input failed');
    }));
    startInstance(store, env, 'i-b');
  });
  t.strictSame(store.getInstance(a.id), a, 'the failed input left no trace in memory');
  t.equal(store.journalHead(a.id), a.version);
  t.equal(store.getInstance('i-b')?.id, 'i-b', 'the other input of the transaction committed');

  const a2 = feed(store, env, a, reply(a, 'reserve', 'Done', env));
  t.equal(a2.version, d.state.version, 'the input applies once it is retried');
  t.strictSame(store.getInstance(a.id), a2);
  t.strictSame(rowOf(file, a.id)?.state, a2);
});

t.test('a command indexed in a transaction or savepoint that rolls back is not found from memory afterwards', async (t) => {
  const file = join(t.testdir(), 'cmd.db');
  const store = openStore(file);
  t.teardown(() => store.close());
  const env = new TestEnv();
  startInstance(store, env, 'i-a');
  startInstance(store, env, 'i-b');

  t.throws(() => store.tx(() => {
    store.indexCommand('c-1', 'i-a', 'reserve', 'do');
    t.same(store.lookupCommand('c-1'), { instanceId: 'i-a', step: 'reserve', kind: 'do' }, 'inside the transaction it is found');
    throw new Error('input failed after indexing');
  }), /input failed/);
  t.equal(store.lookupCommand('c-1'), undefined, 'after the rollback, not found');

  store.tx(() => {
    t.throws(() => store.tx(() => {
      store.indexCommand('c-2', 'i-a', 'charge', 'do');
      throw new Error('this input failed');
    }));
    store.indexCommand('c-3', 'i-b', 'reserve', 'undo');
  });
  t.equal(store.lookupCommand('c-2'), undefined, 'the failed input left no command in memory');
  t.same(store.lookupCommand('c-3'), { instanceId: 'i-b', step: 'reserve', kind: 'undo' }, 'the other input of the transaction committed');

  // An id indexed again keeps its first row, in memory as in the table.
  store.indexCommand('c-3', 'i-a', 'other', 'do');
  t.same(store.lookupCommand('c-3'), { instanceId: 'i-b', step: 'reserve', kind: 'undo' });
  const raw = new Database(file, { readonly: true });
  t.teardown(() => raw.close());
  t.same(raw.prepare("SELECT command_id, instance_id, step, kind FROM commands WHERE command_id LIKE 'c-%' ORDER BY command_id").all(),
    [{ command_id: 'c-3', instance_id: 'i-b', step: 'reserve', kind: 'undo' }], 'the table holds what memory says');
});

t.test('every save reaches the row: steps that keep the status and steps that change it', async (t) => {
  const file = join(t.testdir(), 'c.db');
  const store = openStore(file);
  t.teardown(() => store.close());
  const env = new TestEnv();
  let s = startInstance(store, env, 'i-a');
  s = feed(store, env, s, reply(s, 'reserve', 'Done', env));
  t.same(rowOf(file, s.id), { status: 'running', version: s.version, state: s });
  s = feed(store, env, s, reply(s, 'charge', 'Nope', env));
  t.equal(s.status, 'compensating');
  t.same(rowOf(file, s.id), { status: 'compensating', version: s.version, state: s });
  t.same(store.listInstances({ status: 'compensating' }).items.map((i) => i.id), ['i-a'], 'the status index follows');
  s = compensateAll(store, env, s);
  t.same(rowOf(file, s.id), { status: s.status, version: s.version, state: s });
  t.strictSame(store.getInstance(s.id), s, 'a finished instance, no longer cached, is read back whole');
  t.same(store.listInstances({ status: 'running' }).items, []);
  t.same(store.listInstances({ status: s.status }).items.map((i) => i.version), [s.version]);

  // A fresh open (empty memory) reads exactly what was saved.
  store.close();
  const again = openStore(file);
  t.teardown(() => again.close());
  t.strictSame(again.getInstance(s.id), s);
});
