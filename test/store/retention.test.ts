import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openStore } from '../../engine/store/index.js';
import { feed, reply, startInstance, TestEnv } from './fixtures/saga.js';

t.test('purge deletes only instances still finished at the version read; the journal of others stays append-only', async (t) => {
  const file = join(t.testdir(), 'sagad.db');
  const store = openStore(file);
  t.teardown(() => store.close());
  const env = new TestEnv();
  const run = startInstance(store, env, 'i-run');
  let done = startInstance(store, env, 'i-done');
  done = feed(store, env, done, reply(done, 'reserve', 'Nope', env));
  t.equal(done.status, 'compensated');

  t.same(store.tx(() => store.purge([{ id: 'i-run', version: run.version }])), [], 'a running instance is not purged');
  t.equal(store.history('i-run').length, run.version, 'its journal is whole');
  t.same(store.tx(() => store.purge([{ id: 'i-done', version: done.version - 1 }])), [], 'a finished one changed since it was read is not purged');
  t.equal(store.history('i-done').length, done.version);

  // Another connection, as a tool or a mistake would: the trigger guards the journal itself.
  const raw = new Database(file);
  t.teardown(() => raw.close());
  t.throws(() => raw.prepare("DELETE FROM journal WHERE instance_id = 'i-run'").run(), { message: /journal of an unfinished instance is append-only/ });
  t.throws(() => raw.prepare("UPDATE journal SET type = 'x' WHERE instance_id = 'i-done'").run(), { message: /append-only/ }, 'no update, finished or not');

  const sent = done.steps['reserve']?.commands[0] ?? '';
  t.same(store.lookupCommand(sent), { instanceId: 'i-done', step: 'reserve', kind: 'do' }, 'its command is indexed before');
  t.same(store.tx(() => store.purge([{ id: 'i-done', version: done.version }])), ['i-done']);
  t.equal(store.lookupCommand(sent), undefined, 'and not after');
  const running = run.steps['reserve']?.commands[0] ?? '';
  t.same(store.lookupCommand(running), { instanceId: 'i-run', step: 'reserve', kind: 'do' }, 'the running instance keeps its command');
  t.same(store.history('i-done'), []);
  t.equal(store.getInstance('i-done'), undefined);
  const left = raw.prepare<[], { n: number }>("SELECT (SELECT count(*) FROM snapshots WHERE instance_id = 'i-done') + (SELECT count(*) FROM commands WHERE instance_id = 'i-done') AS n").get();
  t.equal(left?.n, 0, 'no snapshot or command row left (the timers were in the instance row)');
});

t.test('finishedBefore reads a batch without a sort of the whole table: it uses the status index', async (t) => {
  const file = join(t.testdir(), 'sagad.db');
  openStore(file).close();
  const raw = new Database(file);
  t.teardown(() => raw.close());
  const plan = raw.prepare(`EXPLAIN QUERY PLAN SELECT id, state FROM instances WHERE status = 'completed' AND created_at < 1 AND updated_at < 1
    ORDER BY created_at, id LIMIT 10`).all() as { detail: string }[];
  const text = plan.map((p) => p.detail).join('; ');
  t.match(text, /USING INDEX instances_status_created/, text);
  t.notMatch(text, /TEMP B-TREE FOR ORDER BY/, 'no sort of every candidate');
});
