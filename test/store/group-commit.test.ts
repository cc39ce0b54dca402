import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { GroupCommit } from '../../engine/store/group-commit.js';

/** A real SQLite file: inputs of one event-loop turn share one commit, each in its own savepoint. */
function setup(t: { testdir(): string; teardown(fn: () => void): void }) {
  const db = new Database(join(t.testdir(), 'g.db'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE seen (id TEXT PRIMARY KEY)');
  t.teardown(() => db.close());
  const run = db.transaction((fn: () => unknown) => fn());
  let commits = 0;
  const tx = <T>(fn: () => T): T => run.immediate(fn) as T;
  const insert = db.prepare('INSERT INTO seen (id) VALUES (?)');
  const count = () => (db.prepare('SELECT count(*) AS n FROM seen').get() as { n: number }).n;
  const gc = new GroupCommit(tx, () => { commits++; });
  return { gc, insert, count, commits: () => commits };
}

t.test('inputs of the same turn share one commit; a failing one rolls back only itself', async (t) => {
  const { gc, insert, count, commits } = setup(t);
  const a = gc.run(() => insert.run('a').changes);
  const bad = gc.run(() => {
    insert.run('b');
    throw new Error('boom');
  });
  const dup = gc.run(() => insert.run('a').changes);
  const c = gc.run(() => insert.run('c').changes);
  t.equal(await a, 1);
  await t.rejects(bad, /boom/);
  await t.rejects(dup, /UNIQUE/, 'the second input sees the first one\'s uncommitted write');
  t.equal(await c, 1);
  t.equal(count(), 2, 'a and c are committed; b was rolled back with its savepoint');
  t.equal(commits(), 1, 'one shared commit');
});

t.test('nothing resolves before the commit', async (t) => {
  const { gc, insert, count } = setup(t);
  let seenAtResolve = -1;
  await gc.run(() => insert.run('x')).then(() => { seenAtResolve = count(); });
  t.equal(seenAtResolve, 1);
  const later = gc.run(() => insert.run('y'));
  t.equal(count(), 1, 'queued work has not run yet');
  await later;
  t.equal(count(), 2);
});

t.test('large bursts are split into batches, every input committed once', async (t) => {
  const { gc, insert, count, commits } = setup(t);
  const all = Array.from({ length: 1200 }, (_, i) => gc.run(() => insert.run(`k${i}`)));
  await Promise.all(all);
  t.equal(count(), 1200);
  t.equal(commits(), 3, '512 + 512 + 176');
});

t.test('settled() waits for everything queued, as a drain needs', async (t) => {
  const { gc, insert, count } = setup(t);
  for (let i = 0; i < 600; i++) void gc.run(() => insert.run(`s${i}`));
  t.equal(count(), 0, 'nothing committed yet');
  await gc.settled();
  t.equal(count(), 600, 'both batches committed before settled() resolved');
});

t.test('an input alone in its transaction: committed without a savepoint, or rolled back whole', async (t) => {
  const { gc, insert, count, commits } = setup(t);
  t.equal(await gc.run(() => insert.run('a').changes), 1);
  await t.rejects(gc.run(() => {
    insert.run('b');
    throw new Error('boom');
  }), /boom/);
  t.equal(count(), 1, 'b was rolled back');
  t.equal(commits(), 1, 'only the input that succeeded committed');
  t.equal(await gc.run(() => insert.run('b').changes), 1, 'the connection is usable afterwards');
  t.equal(count(), 2);
});

t.test('a transaction that fails as a whole is reported before its inputs reject', async (t) => {
  const db = new Database(join(t.testdir(), 'g.db'));
  t.teardown(() => db.close());
  const run = db.transaction((fn: () => unknown) => fn());
  const events: string[] = [];
  let failCommit = true;
  // The transaction fails after the work ran, as a commit on a full disk does.
  const tx = <T>(fn: () => T): T => run.immediate(() => {
    const v = fn();
    if (failCommit) throw new Error('disk full');
    return v;
  }) as T;
  const gc = new GroupCommit(tx, () => events.push('committed'), 512, () => events.push('rolled back'));
  const one = gc.run(() => 1).catch((e: Error) => { events.push(`rejected: ${e.message}`); });
  await one;
  t.same(events, ['rolled back', 'rejected: disk full'], 'a lone input');
  failCommit = false;
  t.equal(await gc.run(() => 2), 2);
  t.same(events.slice(2), ['committed']);
});

/** As `setup`, counting the calls of `tx`: one per shared transaction and one per savepoint. */
function counted(t: { testdir(): string; teardown(fn: () => void): void }) {
  const db = new Database(join(t.testdir(), 'g.db'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE seen (id TEXT PRIMARY KEY)');
  t.teardown(() => db.close());
  const run = db.transaction((fn: () => unknown) => fn());
  let calls = 0;
  const tx = <T>(fn: () => T): T => {
    calls++;
    return run.immediate(fn) as T;
  };
  const insert = db.prepare('INSERT INTO seen (id) VALUES (?)');
  const ids = () => db.prepare<[], { id: string }>('SELECT id FROM seen ORDER BY id').all().map((r) => r.id);
  class Clean extends Error {}
  const gc = new GroupCommit(tx, () => undefined, 512, undefined, undefined, (e) => e instanceof Clean);
  return { gc, insert, ids, Clean, calls: () => calls };
}

t.test('a batch whose inputs succeed, or fail before writing, runs in one transaction without savepoints', async (t) => {
  const { gc, insert, ids, Clean, calls } = counted(t);
  const a = gc.run(() => insert.run('a').changes);
  const dup = gc.run(() => {
    throw new Clean('seen before');
  });
  const b = gc.run(() => insert.run('b').changes);
  t.equal(await a, 1);
  await t.rejects(dup, /seen before/, 'the clean failure is the input\'s outcome');
  t.equal(await b, 1);
  t.same(ids(), ['a', 'b']);
  t.equal(calls(), 1, 'one transaction, no savepoint');
});

t.test('an input failing after it wrote: the batch runs again with a savepoint each; only that input is undone', async (t) => {
  const { gc, insert, ids, calls } = counted(t);
  const runs = { a: 0, bad: 0, c: 0 };
  const a = gc.run(() => {
    runs.a++;
    return insert.run('a').changes;
  });
  const bad = gc.run(() => {
    runs.bad++;
    insert.run('bad');
    throw new Error('after writing');
  });
  const c = gc.run(() => {
    runs.c++;
    return insert.run('c').changes;
  });
  t.equal(await a, 1);
  await t.rejects(bad, /after writing/, 'the input\'s own error, not the abandoned attempt\'s');
  t.equal(await c, 1);
  t.same(ids(), ['a', 'c'], 'the failed input\'s write is gone, the others are committed once');
  t.same(runs, { a: 2, bad: 2, c: 1 }, 'the first attempt stopped at the failure; the second ran everything');
  t.equal(calls(), 1 + 1 + 3, 'the abandoned transaction, then one with three savepoints');
});

t.test('SQLite rolling the whole transaction back (a full disk, an I/O error): the batch fails as a whole, and no later input commits on its own', async (t) => {
  const db = new Database(join(t.testdir(), 'g.db'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE seen (id TEXT PRIMARY KEY)');
  t.teardown(() => db.close());
  const run = db.transaction((fn: () => unknown) => fn());
  const tx = <T>(fn: () => T): T => run.immediate(fn) as T;
  const insert = db.prepare('INSERT INTO seen (id) VALUES (?)');
  const rollback = db.prepare('ROLLBACK');
  const ids = () => db.prepare<[], { id: string }>('SELECT id FROM seen ORDER BY id').all().map((r) => r.id);
  const events: string[] = [];
  const gc = new GroupCommit(tx, () => events.push('committed'), 512, () => events.push('rolled back'), undefined, () => false, () => db.inTransaction);
  // What SQLite does on SQLITE_FULL: the statement fails and the transaction is gone, savepoints and all.
  const full = (): never => {
    rollback.run();
    throw new Error('database or disk is full');
  };

  // In the first pass, without savepoints.
  const before = [gc.run(() => insert.run('a')), gc.run(() => { insert.run('b'); return full(); }), gc.run(() => insert.run('c'))];
  const first = await Promise.allSettled(before);
  t.same(first.map((r) => r.status), ['rejected', 'rejected', 'rejected'], 'every input fails: none of them is durable');
  t.same(ids(), [], 'c did not commit in a transaction of its own');
  t.same(events, ['rolled back']);

  // In the second pass, with a savepoint each: the input failed after writing the first time, and the disk filled up on its second try.
  let tries = 0;
  const again = [gc.run(() => insert.run('d')), gc.run(() => {
    insert.run('e');
    if (++tries === 1) throw new Error('after writing');
    return full();
  }), gc.run(() => insert.run('f'))];
  const second = await Promise.allSettled(again);
  t.same(second.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
  t.equal(tries, 2, 'the batch ran again with savepoints');
  t.same(ids(), [], 'f did not commit in a transaction of its own');
  t.same(events, ['rolled back', 'rolled back']);

  // The next batch commits as usual.
  t.equal((await gc.run(() => insert.run('g'))).changes, 1);
  t.same(ids(), ['g']);
});
