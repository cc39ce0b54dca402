import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import type { InstanceState } from '../../engine/core/index.js';
import { openStore, StoreErrorCode } from '../../engine/store/index.js';
import { compensateAll, feed, reply, saga, startInstance, TestEnv } from './fixtures/saga.js';

t.test('the projection: save, get, find by key, one key per saga', async (t) => {
  const store = openStore(join(t.testdir(), 'i.db'));
  t.teardown(() => store.close());
  const env = new TestEnv();
  const a = startInstance(store, env, 'i-a', { key: 'order-1' });
  t.strictSame(store.getInstance('i-a'), a);
  t.strictSame(store.findByKey('order', 'order-1'), a);
  t.equal(store.findByKey('order', 'order-2'), undefined);
  t.equal(store.findByKey('other', 'order-1'), undefined);
  t.equal(store.getInstance('nobody'), undefined);

  t.throws(() => startInstance(store, env, 'i-b', { key: 'order-1' }), { code: StoreErrorCode.DuplicateKey });
  t.equal(store.getInstance('i-b'), undefined, 'the failed start left nothing');
  t.equal(store.journalHead('i-b'), 0);
  t.equal(store.timerCount(), 2, 'only the first instance\'s timers');

  startInstance(store, env, 'i-c', { key: 'order-1', def: { ...saga, name: 'refund' } });
  startInstance(store, env, 'i-d');
  startInstance(store, env, 'i-e');
  t.equal(store.findByKey('refund', 'order-1')?.id, 'i-c', 'the same key in another saga is another instance');

  env.now += 5;
  const a2 = feed(store, env, a, reply(a, 'reserve', 'Done', env));
  t.strictSame(store.getInstance('i-a'), a2, 'a later save replaces the row');
  t.equal(store.getInstance('i-a')?.updatedAt, env.now);
});

t.test('rebuild from snapshot and journal equals the state the core decided, at every step', async (t) => {
  const file = join(t.testdir(), 'i.db');
  const store = openStore(file, { snapshotEvery: 3 });
  t.teardown(() => store.close());
  const raw = new Database(file, { readonly: true });
  t.teardown(() => raw.close());
  const snapshotVersion = (id: string) => raw.prepare<[string], { version: number }>('SELECT version FROM snapshots WHERE instance_id = ?').get(id)?.version ?? null;

  const env = new TestEnv();
  const states: InstanceState[] = [];
  const snapshots: (number | null)[] = [];
  const check = (s: InstanceState) => {
    states.push(s);
    snapshots.push(snapshotVersion(s.id));
    t.strictSame(store.getInstance(s.id), s, `projection at version ${s.version}`);
    t.strictSame(store.rebuild(s.id), s, `rebuild at version ${s.version}`);
    t.strictSame(store.rebuild(s.id, { fromScratch: true }), s, `full replay at version ${s.version}`);
    env.now += 100;
    return s;
  };

  let s = check(startInstance(store, env, 'i-1'));
  s = check(feed(store, env, s, reply(s, 'reserve', 'Done', env)));
  s = check(feed(store, env, s, reply(s, 'charge', 'Busy', env)));
  s = check(feed(store, env, s, { type: 'TimerFired', timer: { kind: 'retry', step: 'charge', attempt: 1 } }));
  s = check(feed(store, env, s, reply(s, 'charge', 'Nope', env)));
  s = compensateAll(store, env, s, check);

  t.equal(s.status, 'compensated');
  t.ok(states.length >= 6 && s.version >= 10, `a long enough journal (${s.version} events)`);
  // A snapshot is written once 3 events have passed since the previous one.
  let last = 0;
  t.same(snapshots, states.map((x) => {
    if (x.version - last >= 3) last = x.version;
    return last === 0 ? null : last;
  }));
  t.ok(new Set(snapshots).size >= 3, `several snapshots: ${snapshots.join(', ')}`);
  t.same(store.nonTerminalIds(), []);
  t.equal(store.timerCount(), 0, 'every timer was cancelled on the way');
});

t.test('rebuild starts from the latest snapshot, not from the first event', async (t) => {
  const file = join(t.testdir(), 'i.db');
  const store = openStore(file, { snapshotEvery: 3 });
  t.teardown(() => store.close());
  const env = new TestEnv();
  const s1 = startInstance(store, env, 'i-1');
  const s2 = feed(store, env, s1, reply(s1, 'reserve', 'Done', env));
  const s3 = feed(store, env, s2, reply(s2, 'charge', 'Done', env));

  // Mark the snapshot: a rebuild that reads it carries the mark through the later events.
  const raw = new Database(file);
  raw.prepare("UPDATE snapshots SET state = json_set(state, '$.input', 'from-snapshot') WHERE instance_id = 'i-1'").run();
  raw.close();
  t.equal(store.rebuild('i-1').input, 'from-snapshot');
  t.equal(store.rebuild('i-1').version, s3.version);
  t.strictSame(store.rebuild('i-1', { fromScratch: true }), s3);
  t.throws(() => store.rebuild('nobody'), { code: StoreErrorCode.NotFound });
});

t.test('counts by saga and status, and the ids still in progress', async (t) => {
  const store = openStore(join(t.testdir(), 'i.db'));
  t.teardown(() => store.close());
  const env = new TestEnv();
  const ids = ['i-1', 'i-2', 'i-3', 'i-4'];
  const started = ids.map((id) => {
    env.now += 1;
    return startInstance(store, env, id);
  });
  startInstance(store, env, 'r-1', { def: { ...saga, name: 'refund' } });
  const [a, b] = started as [InstanceState, InstanceState];
  compensateAll(store, env, feed(store, env, a, { type: 'CancelRequested', reason: 'test' }));
  feed(store, env, b, { type: 'CancelRequested', reason: 'test' });

  t.same(store.countByStatus(), [
    { saga: 'order', status: 'compensated', count: 1 },
    { saga: 'order', status: 'compensating', count: 1 },
    { saga: 'order', status: 'running', count: 2 },
    { saga: 'refund', status: 'running', count: 1 },
  ]);
  t.same(store.nonTerminalIds(), ['i-2', 'i-3', 'i-4', 'r-1']);
});

t.test('the row keeps the state document only once the instance has finished; a running one is read from its journal', async (t) => {
  const file = join(t.testdir(), 'kept.db');
  const store = openStore(file, { snapshotEvery: 3 });
  t.teardown(() => store.close());
  const raw = new Database(file);
  t.teardown(() => raw.close());
  const stateColumn = (id: string) => raw.prepare<[string], { state: string }>('SELECT state FROM instances WHERE id = ?').get(id)?.state;
  const env = new TestEnv();
  let s = startInstance(store, env, 'i-a', { key: 'k-a' });
  t.equal(stateColumn('i-a'), 'null', 'a started instance: no document in its row');
  s = feed(store, env, s, reply(s, 'reserve', 'Done', env));
  s = feed(store, env, s, reply(s, 'charge', 'Nope', env));
  t.equal(s.status, 'compensating');
  t.equal(stateColumn('i-a'), 'null', 'nor after steps that keep or change its status');
  t.ok(s.version > 3, 'past a snapshot, so the read below starts from one');

  // Another connection (no memory of the saves) reads the state from snapshot and journal.
  const reader = openStore(file, { readonly: true });
  t.teardown(() => reader.close());
  t.strictSame(reader.getInstance('i-a'), s, 'by id');
  t.strictSame(reader.findByKey('order', 'k-a'), s, 'by key');
  t.same(store.rebuildInstance('i-a'), { id: 'i-a', changed: false, differences: [] }, 'a rebuild finds nothing to mend');

  s = compensateAll(store, env, s);
  t.ok(['compensated', 'failed'].includes(s.status), s.status);
  t.strictSame(JSON.parse(stateColumn('i-a') ?? 'null'), JSON.parse(JSON.stringify(s)), 'a finished instance: its state in the row');
  t.strictSame(reader.getInstance('i-a'), s);

  // A finished row whose document drifted: the rebuild reports it and writes the replay back.
  raw.prepare("UPDATE instances SET state = json_set(state, '$.input', 'drifted') WHERE id = 'i-a'").run();
  const report = store.rebuildInstance('i-a');
  t.same(report.differences.map((d) => d.path), ['state.input']);
  t.strictSame(JSON.parse(stateColumn('i-a') ?? 'null'), JSON.parse(JSON.stringify(s)));
  raw.prepare("UPDATE instances SET state = 'null' WHERE id = 'i-a'").run();
  t.same(store.rebuildInstance('i-a').differences.map((d) => d.path), ['state'], 'a finished row without its document is mended too');
  t.strictSame(reader.getInstance('i-a'), s);
});

t.test('a row written before this layout, its document older than the row, is read from the journal', async (t) => {
  const file = join(t.testdir(), 'old.db');
  const store = openStore(file);
  t.teardown(() => store.close());
  const env = new TestEnv();
  const first = startInstance(store, env, 'i-a');
  const raw = new Database(file);
  t.teardown(() => raw.close());
  // As an earlier build wrote it: the state document of the row's version.
  raw.prepare('UPDATE instances SET state = ? WHERE id = ?').run(JSON.stringify(first), 'i-a');
  const reader = openStore(file, { readonly: true });
  t.teardown(() => reader.close());
  t.strictSame(reader.getInstance('i-a'), first, 'a document at the row\'s version is used');
  const next = feed(store, env, first, reply(first, 'reserve', 'Done', env));
  t.equal(JSON.parse(raw.prepare<[], { state: string }>("SELECT state FROM instances WHERE id = 'i-a'").get()?.state ?? 'null').version, first.version,
    'the step left the old document in the row');
  t.strictSame(reader.getInstance('i-a'), next, 'the document is older than the row: the journal is read');
});
