import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { until } from '../helpers/until.js';
import { BACKGROUND_CACHE_KIB, startBackground } from '../../engine/store/background.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { startInstance, TestEnv } from './fixtures/saga.js';

const KB = 1024;

/** 1,500 commits of a 4 KiB dead letter each: some 6 MB of pages through the WAL. */
function write(store: Store, from: number): void {
  for (let i = from; i < from + 1500; i++) {
    store.park({ subject: 's', reason: `r${i}`, headers: {}, data: new Uint8Array(4 * KB).fill(i % 251), deliveryCount: 1, at: i });
  }
}


t.test('the background thread copies the WAL into the database file while the store keeps committing', async (t) => {
  const file = join(t.testdir(), 'b.db');
  const store = openStore(file, { background: true, onBackgroundError: (m) => t.fail(m) });
  const before = statSync(file).size;
  write(store, 0);
  // The committing connection's own threshold (10,000 pages, 40 MB) is far off: only the
  // background thread can have grown the database file.
  await until(() => statSync(file).size >= before + 6000 * KB, 'the database file to hold the 6 MB written', { withinMs: 20_000, everyMs: 20 });
  write(store, 1500);
  await until(() => statSync(file).size >= before + 12_000 * KB, 'the database file to hold the next 6 MB', { withinMs: 20_000, everyMs: 20 });
  t.equal(store.deadCount(), 3000);

  // close() is synchronous: had it returned before the thread closed its connection, that
  // connection would still hold the WAL here.
  store.close();
  t.notOk(existsSync(`${file}-wal`), 'close returned after both connections closed: the last one checkpointed and removed the WAL');
  const again = openStore(file);
  t.teardown(() => again.close());
  t.equal(again.deadCount(), 3000, 'every commit is in the database');
  const last = again.getDead(again.listDead({ limit: 1 }).items[0]?.id ?? '');
  t.equal(last?.reason, 'r2999');
  t.ok(last !== undefined && last.data.length === 4 * KB && last.data.every((b) => b === 2999 % 251), 'the last letter intact');
});

t.test('gauges are counted on the background thread, from what was committed', async (t) => {
  const file = join(t.testdir(), 'b.db');
  const store = openStore(file, { background: true, onBackgroundError: (m) => t.fail(m) });
  t.teardown(() => store.close());
  const empty = await store.gauges();
  t.same(empty, { instances: [], timersPending: 0, outboxBacklog: 0, outboxOldestAt: null, deadLetters: 0 });
  const env = new TestEnv();
  for (let i = 0; i < 5; i++) startInstance(store, env, `i-${i}`);
  store.park({ subject: 's', reason: 'r', headers: {}, data: new Uint8Array([1]), deliveryCount: 1, at: 1 });
  const here = { instances: store.countByStatus(), timersPending: store.timerCount(), outboxBacklog: store.backlog(), outboxOldestAt: store.oldestUnsentAt(), deadLetters: store.deadCount() };
  t.equal(here.instances[0]?.count, 5);
  t.ok(here.timersPending > 0 && here.outboxBacklog > 0 && here.outboxOldestAt !== null);
  t.same(await store.gauges(), here, 'the thread sees every commit made before the call');

  // Without the thread (a tool's store), the same counts come from the one connection.
  store.close();
  const plain = openStore(file);
  t.teardown(() => plain.close());
  t.same(await plain.gauges(), here);
});

t.test('without the background thread (the default) the commits checkpoint themselves', async (t) => {
  const file = join(t.testdir(), 'b.db');
  const store = openStore(file);
  const before = statSync(file).size;
  write(store, 0);
  t.ok(statSync(file).size > before + 2000 * KB, 'SQLite\'s threshold of 1,000 pages checkpointed inside the commits');
  store.close();
  t.notOk(existsSync(`${file}-wal`));
});

t.test('the background connection keeps a small page cache: its scans would fill a large one for nothing', async (t) => {
  const file = join(t.testdir(), 'b.db');
  openStore(file).close();
  const bg = startBackground(file, 'FULL', (m) => t.fail(m));
  t.teardown(() => bg.stop());
  const r = await bg.read({ cache: 'PRAGMA cache_size' });
  t.same(r.cache, [{ cache_size: -BACKGROUND_CACHE_KIB }], 'a negative cache_size is KiB');
  t.ok(BACKGROUND_CACHE_KIB <= 2000, 'no more than SQLite\'s default of 2 MB (better-sqlite3 sets 16 MB)');
});
