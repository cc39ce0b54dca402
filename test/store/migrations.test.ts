import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { migrate, migrations, openStore, schemaVersion, StoreErrorCode } from '../../engine/store/index.js';
import { startInstance, TestEnv } from './fixtures/saga.js';

const userVersion = (file: string): unknown => {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true });
  } finally {
    db.close();
  }
};

const tables = (file: string): string[] => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all().map((r) => r.name);
  } finally {
    db.close();
  }
};

t.test('a fresh file gets every table, the last schema version and WAL', async (t) => {
  const file = join(t.testdir(), 'nested', 'dir', 'sagad.db');
  const store = openStore(file);
  store.close();
  t.ok(existsSync(file), 'parent directories are created');
  t.same(tables(file), ['commands', 'dead_letters', 'definitions', 'early_events', 'inbox', 'instance_counts', 'instances', 'journal', 'outbox', 'snapshots', 'waits']);
  t.equal(userVersion(file), schemaVersion);
  const db = new Database(file, { readonly: true });
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
  // Opening again applies nothing and keeps the version.
  openStore(file).close();
  t.equal(userVersion(file), schemaVersion);
});

t.test('a version 1 file is migrated at open and keeps its data', async (t) => {
  const file = join(t.testdir(), 'old.db');
  const old = new Database(file);
  t.equal(migrate(old, migrations.slice(0, 1)), 1);
  old.prepare("INSERT INTO inbox (message_id, at) VALUES ('m-1', 5)").run();
  old.close();
  t.same(tables(file).includes('waits'), false);

  const store = openStore(file);
  t.teardown(() => store.close());
  t.ok(store.seen('m-1'), 'data written under version 1 is still there');
  const env = new TestEnv();
  startInstance(store, env, 'i-1');
  store.addWait('orders.events', 'Paid', 'i-1', 'reserve', 'c-1');
  t.same(store.waiting('orders.events', 'Paid', 'c-1'), [{ instanceId: 'i-1', step: 'reserve' }], 'version 2 tables are usable');
  t.equal(store.park({ subject: 's', reason: 'r', headers: {}, data: new Uint8Array([1]), deliveryCount: 1, at: 1 }), '1');
  t.equal(userVersion(file), schemaVersion, 'migrated to the last version');
});

t.test('a version 6 file keeps its pending timers: migration 7 moves them into their instance rows', async (t) => {
  const file = join(t.testdir(), 'v6.db');
  const old = new Database(file);
  old.pragma('foreign_keys = ON');
  t.equal(migrate(old, migrations.slice(0, 6)), 6);
  const row = "('i-%s', 'order', 'h', NULL, 'c', 'running', 1, 2, 1, '{}')";
  old.exec(`INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
    VALUES ${['1', '2', '3'].map((n) => row.replace('%s', n)).join(', ')}`);
  const timer = old.prepare<[string, string, number, string]>('INSERT INTO timers (instance_id, timer_id, due_at, data) VALUES (?, ?, ?, ?)');
  timer.run('i-1', 'deadline', 900, '{"kind":"deadline"}');
  timer.run('i-1', 'retry:charge:1', 300, '{"kind":"retry","step":"charge","attempt":1}');
  timer.run('i-2', 'deadline', 500, '{"kind":"deadline"}');
  old.prepare("INSERT INTO inbox (message_id, at) VALUES ('m-1', 5)").run();
  old.close();

  const store = openStore(file);
  t.teardown(() => store.close());
  t.equal(userVersion(file), schemaVersion);
  t.notOk(tables(file).includes('timers'), 'the timers table is gone');
  t.equal(store.timerCount(), 3);
  t.equal(store.nextDueAt(), 300);
  t.same(store.timersOf('i-1'), [
    { instanceId: 'i-1', timerId: 'retry:charge:1', dueAt: 300, data: { kind: 'retry', step: 'charge', attempt: 1 } },
    { instanceId: 'i-1', timerId: 'deadline', dueAt: 900, data: { kind: 'deadline' } },
  ], 'earliest first, data as stored');
  t.same(store.timersOf('i-3'), [], 'an instance without timers has none');
  t.same(store.dueTimers(600, 10).map((r) => `${r.instanceId}/${r.timerId}`), ['i-1/retry:charge:1', 'i-2/deadline']);
  t.ok(store.consumeTimer('i-2', 'deadline', 500), 'a carried-over timer fires once');
  t.notOk(store.consumeTimer('i-2', 'deadline', 500));
  t.equal(store.timerCount(), 2);

  // Migration 8: the inbox keeps its rows without the index on their time.
  t.notOk(store.remember('m-1', 6), 'a carried-over inbox id still dedupes');
  const raw = new Database(file, { readonly: true });
  t.teardown(() => raw.close());
  t.same(raw.prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'inbox' AND type = 'index' AND sql IS NOT NULL").all(), [], 'no inbox_at');
  t.equal(store.pruneInbox(6), 1);
});

t.test('a version 8 file keeps its unsent outbox rows: migration 9 drops the sent ones and the sent/unsent indexes', async (t) => {
  const file = join(t.testdir(), 'v8.db');
  const old = new Database(file);
  old.pragma('foreign_keys = ON');
  t.equal(migrate(old, migrations.slice(0, 8)), 8);
  const put = old.prepare<[string, string, number, number | null]>(
    "INSERT INTO outbox (message_id, subject, headers, data, created_at, sent_at) VALUES (?, ?, '{\"Nats-Msg-Id\":\"x\"}', x'0102', ?, ?)");
  // Seqs 1-5; 2 and 4 unsent (the relay had not published them when sagad stopped), 5, the last one handed out, sent.
  put.run('m-1', 'a.commands', 10, 11);
  put.run('m-2', 'b.commands', 12, null);
  put.run('m-3', 'sagas.events', 13, 14);
  put.run('m-4', 'c.commands', 15, null);
  put.run('m-5', 'sagas.events', 16, 17);
  old.close();

  const store = openStore(file);
  t.teardown(() => store.close());
  t.equal(userVersion(file), schemaVersion);
  const rows = store.unsent(10);
  t.same(rows.map((r) => [r.seq, r.messageId, r.subject, r.createdAt]), [[2, 'm-2', 'b.commands', 12], [4, 'm-4', 'c.commands', 15]],
    'the unsent rows, with their seqs, in seq order');
  t.same(rows[0]?.headers, { 'Nats-Msg-Id': 'x' });
  t.same([...(rows[0]?.data ?? [])], [1, 2], 'bytes as stored');
  t.equal(store.backlog(), 2);
  t.equal(store.oldestUnsentAt(), 12);
  t.same(store.unsentBySeq([1, 2, 3, 4, 5]).map((r) => r.seq), [2, 4]);

  const raw = new Database(file, { readonly: true });
  t.teardown(() => raw.close());
  t.same(raw.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox').get()?.n, 2, 'the sent rows are gone');
  t.same(raw.prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'outbox' AND type = 'index' AND sql IS NOT NULL").all(), [],
    'no outbox_unsent, no outbox_sent');
  t.same(raw.prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'outbox%' AND type = 'table'").all(), [{ name: 'outbox' }], 'no copy left behind');

  const [next] = store.enqueue([{ messageId: 'm-6', subject: 'd.commands', headers: {}, data: new Uint8Array([6]) }]);
  t.equal(next?.seq, 6, 'seqs go on after the last one handed out, though that row was sent');
  t.same(store.enqueue([{ messageId: 'm-4', subject: 'again', headers: {}, data: new Uint8Array() }]), [], 'an unsent id is still unique');
  store.markSent([2, 4], 20);
  t.same(store.unsent(10).map((r) => r.messageId), ['m-6']);
});

t.test('a version 9 file: migration 10 turns the lists\' indexes ascending and finds the definitions in use from the counts, which migration 11 takes again from the rows', async (t) => {
  const file = join(t.testdir(), 'v9.db');
  const old = new Database(file);
  old.pragma('foreign_keys = ON');
  t.equal(migrate(old, migrations.slice(0, 9)), 9);
  const put = old.prepare<[string, string, string, string, number, number]>(`INSERT INTO instances
    (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state) VALUES (?, ?, ?, NULL, 'c', ?, ?, ?, 1, 'null')`);
  const rows: [string, string, string, string, number][] = [
    ['i-1', 'order', 'h-old', 'completed', 10], ['i-2', 'order', 'h-x', 'running', 20], ['i-3', 'order', 'h-new', 'running', 30],
    ['i-4', 'refund', 'h-r', 'completed', 30], ['i-5', 'order', 'h-new', 'compensated', 40],
  ];
  for (const [id, saga, hash, status, at] of rows) put.run(id, saga, hash, status, at, at);
  // A count that drifted from the rows before migration 10 (a row's definition rewritten without its state).
  old.prepare("UPDATE instances SET definition_hash = 'h-old' WHERE id = 'i-2'").run();
  old.prepare("UPDATE instance_counts SET first_created_at = 5 WHERE definition_hash = 'h-old' AND status = 'completed'").run();
  old.close();

  const store = openStore(file);
  t.teardown(() => store.close());
  t.equal(userVersion(file), schemaVersion);
  const raw = new Database(file);
  t.teardown(() => raw.close());
  const indexes = raw.prepare<[], { name: string; sql: string }>(
    "SELECT name, sql FROM sqlite_schema WHERE tbl_name = 'instances' AND type = 'index' AND sql IS NOT NULL ORDER BY name").all();
  t.notOk(indexes.some((i) => i.name === 'instances_status_definition'), 'no index by status and definition');
  t.same(indexes.filter((i) => /created_at/.test(i.sql) && !i.name.endsWith('took')).map((i) => [i.name, /DESC/.test(i.sql)]),
    [['instances_created', false], ['instances_saga_created', false], ['instances_saga_status', false], ['instances_status_created', false]],
    'every list index ascending');

  // The lists still read newest first, with and without a filter, page by page.
  t.same(store.listInstances().items.map((i) => i.id), ['i-5', 'i-4', 'i-3', 'i-2', 'i-1']);
  const first = store.listInstances({ saga: 'order', limit: 2 });
  t.same(first.items.map((i) => i.id), ['i-5', 'i-3']);
  t.same(store.listInstances({ saga: 'order', limit: 2, cursor: first.nextCursor }).items.map((i) => i.id), ['i-2', 'i-1']);
  t.same(store.listInstances({ status: 'running' }).items.map((i) => i.id), ['i-3', 'i-2']);
  t.same(store.listInstances({ saga: 'order', status: 'completed' }).items.map((i) => i.id), ['i-1']);
  const plan = raw.prepare("EXPLAIN QUERY PLAN SELECT id FROM instances WHERE status = ? ORDER BY created_at DESC, id DESC LIMIT 5").all('running');
  t.notMatch(JSON.stringify(plan), /TEMP B-TREE/, 'read backwards along the index, not sorted');

  // Definitions in use: instances that may still take an input (running, compensated), not a completed one's only;
  // h-old's running instance, whose count had stayed with h-new, is found again (migration 11).
  t.same(store.hashesInUse(), ['h-new', 'h-old']);
  t.same(raw.prepare("SELECT first_created_at AS first FROM instance_counts WHERE definition_hash = 'h-old' AND status = 'completed'").get(), { first: 5 },
    'a first start the triggers saw is kept');
  raw.prepare("UPDATE instances SET status = 'completed' WHERE id = 'i-2'").run();
  t.same(store.hashesInUse(), ['h-new'], 'h-old pinned by nothing once its running instance completed');
  // A row whose definition changes without its state (a rebuild correcting it) moves its count along.
  raw.prepare("UPDATE instances SET definition_hash = 'h-fixed' WHERE id = 'i-3'").run();
  t.same(store.hashesInUse(), ['h-fixed', 'h-new']);
  raw.prepare("UPDATE instances SET saga = 'order2', definition_hash = 'h-moved', status = 'compensating' WHERE id = 'i-3'").run();
  t.same(store.hashesInUse(), ['h-moved', 'h-new'], 'with its state too, counted once');
  t.same(raw.prepare('SELECT saga, definition_hash AS hash, status, count FROM instance_counts WHERE count > 0 ORDER BY 1, 2, 3').all(), [
    { saga: 'order', hash: 'h-new', status: 'compensated', count: 1 },
    { saga: 'order', hash: 'h-old', status: 'completed', count: 2 },
    { saga: 'order2', hash: 'h-moved', status: 'compensating', count: 1 },
    { saga: 'refund', hash: 'h-r', status: 'completed', count: 1 },
  ], 'the counts match the rows');
  t.same(raw.prepare('SELECT sum(count) AS n FROM instance_counts').get(), { n: 5 });
});

t.test('a version 11 file keeps its commands: migration 12 keys them by id alone, and retention still deletes an instance\'s', async (t) => {
  const file = join(t.testdir(), 'v11.db');
  const old = new Database(file);
  old.pragma('foreign_keys = ON');
  t.equal(migrate(old, migrations.slice(0, 11)), 11);
  const instance = old.prepare<[string, string, number]>(`INSERT INTO instances
    (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state) VALUES (?, 'order', 'h', NULL, 'c', ?, 10, 10, ?, 'null')`);
  const event = old.prepare<[string, number, string, string]>('INSERT INTO journal (instance_id, seq, type, type_version, at, data) VALUES (?, ?, ?, 1, 10, ?)');
  const command = old.prepare<[string, string, string, string]>('INSERT INTO commands (command_id, instance_id, step, kind) VALUES (?, ?, ?, ?)');
  // A finished instance that sent a command and its compensation, and a running one.
  instance.run('i-done', 'compensated', 3);
  event.run('i-done', 1, 'StepDispatched', JSON.stringify({ type: 'StepDispatched', at: 10, step: 'reserve', attempt: 1, commandId: 'c-do', timeoutAt: 20 }));
  event.run('i-done', 2, 'CompensationDispatched', JSON.stringify({ type: 'CompensationDispatched', at: 11, step: 'reserve', attempt: 1, commandId: 'c-undo', timeoutAt: 21 }));
  event.run('i-done', 3, 'SagaCompensated', JSON.stringify({ type: 'SagaCompensated', at: 12 }));
  instance.run('i-run', 'running', 1);
  event.run('i-run', 1, 'StepDispatched', JSON.stringify({ type: 'StepDispatched', at: 10, step: 'pay', attempt: 1, commandId: 'c-run', timeoutAt: 20 }));
  command.run('c-do', 'i-done', 'reserve', 'do');
  command.run('c-undo', 'i-done', 'reserve', 'undo');
  command.run('c-run', 'i-run', 'pay', 'do');
  old.close();

  const store = openStore(file);
  t.teardown(() => store.close());
  t.equal(userVersion(file), schemaVersion);
  t.same(store.lookupCommand('c-do'), { instanceId: 'i-done', step: 'reserve', kind: 'do' }, 'a command indexed before is found');
  t.same(store.lookupCommand('c-undo'), { instanceId: 'i-done', step: 'reserve', kind: 'undo' });
  t.same(store.lookupCommand('c-run'), { instanceId: 'i-run', step: 'pay', kind: 'do' });

  const raw = new Database(file, { readonly: true });
  t.teardown(() => raw.close());
  t.match(raw.prepare<[], { sql: string }>("SELECT sql FROM sqlite_schema WHERE name = 'commands'").get()?.sql, /WITHOUT ROWID/, 'one B-tree keyed by command_id');
  t.same(raw.prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'commands' AND type = 'index'").all(), [], 'no index beside it');
  t.same(raw.prepare('SELECT * FROM pragma_foreign_key_list(?)').all('commands'), [], 'no foreign key: nothing to look up at every insert');
  t.same(raw.prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'commands%' AND type = 'table'").all(), [{ name: 'commands' }], 'no copy left behind');

  // Retention finds the finished instance's commands through its journal; the running one keeps its.
  t.same(store.tx(() => store.purge([{ id: 'i-done', version: 3 }])), ['i-done']);
  t.equal(store.lookupCommand('c-do'), undefined, 'the purged instance\'s commands are gone');
  t.equal(store.lookupCommand('c-undo'), undefined);
  t.same(raw.prepare('SELECT command_id AS id FROM commands').all(), [{ id: 'c-run' }], 'the running one\'s stays');
});

t.test('a version 12 file keeps its waits: migration 13 offers them every event of their type, new ones only their correlation id\'s', async (t) => {
  const file = join(t.testdir(), 'v12.db');
  const old = new Database(file);
  old.pragma('foreign_keys = ON');
  t.equal(migrate(old, migrations.slice(0, 12)), 12);
  const instance = old.prepare<[string, string]>(`INSERT INTO instances
    (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state) VALUES (?, 'order', 'h', NULL, ?, 'running', 10, 10, 1, 'null')`);
  instance.run('i-old', 'c-old');
  instance.run('i-new', 'c-new');
  old.prepare("INSERT INTO waits (subject, type, instance_id, step) VALUES ('shipping.events', 'Delivered', 'i-old', 'delivered')").run();
  old.close();

  const store = openStore(file);
  t.teardown(() => store.close());
  t.equal(userVersion(file), schemaVersion);
  store.addWait('shipping.events', 'Delivered', 'i-new', 'delivered', 'c-new');
  const old1 = { instanceId: 'i-old', step: 'delivered' };
  t.same(store.waiting('shipping.events', 'Delivered', 'c-old'), [old1], 'a wait written before names no correlation id: found as before');
  t.same(store.waiting('shipping.events', 'Delivered', 'c-other'), [old1], 'for every event of its type, as before');
  t.same(store.waiting('shipping.events', 'Delivered', 'c-new'), [old1, { instanceId: 'i-new', step: 'delivered' }], 'a new one for its own');

  const raw = new Database(file, { readonly: true });
  t.teardown(() => raw.close());
  t.same(raw.prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'waits' AND type = 'index' AND sql IS NOT NULL").all(), [{ name: 'waits_correlation' }],
    'the index by type alone replaced');
  const plan = raw.prepare("EXPLAIN QUERY PLAN SELECT step FROM waits WHERE subject = 'a' AND type = 'b' AND correlation_id = 'c'").all();
  t.match(JSON.stringify(plan), /USING INDEX waits_correlation \(subject=\? AND type=\? AND correlation_id=\?\)/, 'one probe of it');
});

t.test('a failing migration leaves the file as it was', async (t) => {
  const file = join(t.testdir(), 'bad.db');
  const db = new Database(file);
  migrate(db, migrations.slice(0, 1));
  const broken = [...migrations, { version: schemaVersion + 1, description: 'broken', sql: 'CREATE TABLE extra (x INTEGER); SELECT no_such_function();' }];
  t.throws(() => migrate(db, broken));
  t.equal(db.pragma('user_version', { simple: true }), 1);
  t.notOk(db.prepare("SELECT 1 FROM sqlite_schema WHERE name IN ('waits', 'extra')").get(), 'no step of the batch was kept');
  db.close();
});

t.test('a file from a newer build or from another program is refused', async (t) => {
  const dir = t.testdir();
  const newer = new Database(join(dir, 'newer.db'));
  newer.pragma(`user_version = ${schemaVersion + 1}`);
  newer.close();
  t.throws(() => openStore(join(dir, 'newer.db')), { code: StoreErrorCode.SchemaVersion });
  t.throws(() => openStore(join(dir, 'newer.db'), { readonly: true }), { code: StoreErrorCode.SchemaVersion });

  const foreign = new Database(join(dir, 'foreign.db'));
  foreign.exec('CREATE TABLE people (name TEXT)');
  foreign.close();
  t.throws(() => openStore(join(dir, 'foreign.db')), { code: StoreErrorCode.SchemaVersion });
});

t.test('read-only open: reads a live file, refuses writes, migrates nothing', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'live.db');
  const writer = openStore(file);
  t.teardown(() => writer.close());
  const env = new TestEnv();
  startInstance(writer, env, 'i-1');

  const reader = openStore(file, { readonly: true });
  t.teardown(() => reader.close());
  t.equal(reader.readonly, true);
  t.equal(reader.getInstance('i-1')?.status, 'running');
  startInstance(writer, env, 'i-2');
  t.equal(reader.getInstance('i-2')?.id, 'i-2', 'sees what the writer commits later');
  t.throws(() => reader.remember('m-1', 1), { code: 'SQLITE_READONLY' });
  t.throws(() => startInstance(reader, env, 'i-3'), { code: 'SQLITE_READONLY' });
  t.equal(reader.tx(() => reader.listInstances().items.length), 2, 'a read transaction works');
  t.notOk(writer.getInstance('i-3'));

  t.throws(() => openStore(join(dir, 'missing.db'), { readonly: true }), { code: StoreErrorCode.NotFound });
  t.notOk(existsSync(join(dir, 'missing.db')), 'a read-only open creates no file');

  const old = new Database(join(dir, 'v1.db'));
  migrate(old, migrations.slice(0, 1));
  old.close();
  t.throws(() => openStore(join(dir, 'v1.db'), { readonly: true }), { code: StoreErrorCode.SchemaVersion, message: /older/ });
  t.equal(userVersion(join(dir, 'v1.db')), 1, 'still version 1');
});

t.test('bad options are refused before anything opens', async (t) => {
  const file = join(t.testdir(), 'x', 'never.db');
  t.throws(() => openStore(file, { snapshotEvery: 0 }), RangeError);
  t.notOk(existsSync(file));
});
