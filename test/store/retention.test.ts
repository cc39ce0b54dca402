import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openStore } from '../../engine/store/index.js';
import { ancestorActive, MAX_ANCESTRY, pageOf } from '../../engine/store/retention.js';
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
    AND (created_at, id) > (0, 'x') ORDER BY created_at, id LIMIT 10`).all() as { detail: string }[];
  const text = plan.map((p) => p.detail).join('; ');
  t.match(text, /USING INDEX instances_status_created/, text);
  t.notMatch(text, /TEMP B-TREE FOR ORDER BY/, 'no sort of every candidate');
});

t.test('a batch of candidates: the first `limit` of both statuses in (created, id) order, and where the pass goes on', async (t) => {
  const row = (created: number, id: string) => ({ created, id });
  t.same(pageOf([[row(1, 'a'), row(3, 'c')], [row(2, 'b')]], 3), { rows: [row(1, 'a'), row(2, 'b'), row(3, 'c')], next: null },
    'fewer than the limit of each status: the pass has read them all');
  t.same(pageOf([[row(1, 'a'), row(3, 'c')], [row(2, 'b'), row(4, 'd')]], 2), { rows: [row(1, 'a'), row(2, 'b')], next: { createdAt: 2, id: 'b' } },
    'a status filled its limit: the next batch starts after the last one taken');
  t.same(pageOf([[row(5, 'b'), row(5, 'a')], []], 2), { rows: [row(5, 'a'), row(5, 'b')], next: { createdAt: 5, id: 'b' } }, 'ties go by id');
  t.same(pageOf([[], []], 2), { rows: [], next: null });
  t.same(pageOf([[row(1, 'a'), row(3, 'c')], [row(2, 'b'), row(4, 'd')]], 3), { rows: [row(1, 'a'), row(2, 'b'), row(3, 'c')], next: { createdAt: 3, id: 'c' } },
    'neither status filled the limit, but together they passed it: the pass goes on');
  t.same(pageOf([[row(7, '\u{1F600}')], [row(7, '\uE000')]], 1), { rows: [row(7, '\uE000')], next: { createdAt: 7, id: '\uE000' } },
    'ids ordered by their UTF-8 bytes, as the databases order them, not by UTF-16 units');
});

t.test('a finished child is kept while any ancestor may still ask it to compensate', async (t) => {
  const db: Record<string, { status: string; parent: string | null }> = {
    root: { status: 'running', parent: null },
    mid: { status: 'completed', parent: 'root' },
    ended: { status: 'compensated', parent: null },
    under: { status: 'completed', parent: 'ended' },
    orphan: { status: 'completed', parent: 'gone' },
    loop1: { status: 'completed', parent: 'loop2' },
    loop2: { status: 'completed', parent: 'loop1' },
    stuck: { status: 'failed', parent: null },
  };
  const reads: string[] = [];
  const lookup = (id: string) => {
    reads.push(id);
    return db[id];
  };
  const memo = new Map<string, boolean>();
  t.equal(ancestorActive(null, lookup, memo), false, 'a root has nobody above it');
  t.equal(ancestorActive('mid', lookup, memo), true, 'its grandparent runs');
  t.equal(ancestorActive('root', lookup, memo), true, 'its parent runs');
  t.same(reads, ['mid', 'root'], 'each ancestor read once in a batch');
  t.equal(ancestorActive('under', lookup, memo), false, 'every ancestor ended');
  t.equal(ancestorActive('orphan', lookup, memo), false, 'an ancestor gone from the store asks nothing');
  t.equal(ancestorActive('stuck', lookup, memo), true, 'a failed parent waits for an operator\'s retry, which may compensate');
  t.equal(ancestorActive('loop1', lookup), true, 'a cycle (never written) keeps the child');
  const deep = (id: string) => ({ status: 'completed', parent: `${id}x` });
  t.equal(ancestorActive('x', deep), true, `deeper than ${MAX_ANCESTRY} levels: kept`);
});
