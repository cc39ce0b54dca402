/**
 * The insight contract on SQLite (with and without the background thread), and what migration
 * 3 does to a file that already holds instances: the counts start exact.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { migrate, migrations, openStore } from '../../../engine/store/index.js';
import { openSqlitePort } from '../../../engine/store/sqlite-port.js';
import { insightsContract } from './insights.js';

const dir = mkdtempSync(join(tmpdir(), 'sagad-insights-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

for (const background of [false, true]) {
  t.test(background ? 'with the background thread' : 'on the committing connection', async (t) => {
    insightsContract(t, {
      name: 'sqlite',
      leases: false,
      async fresh() {
        const file = join(dir, `${++files}.db`);
        return { open: (opts) => openSqlitePort(file, { ...opts, background }) };
      },
    });
  });
}

t.test('migration 3 counts the instances a file already holds, and keeps counting', async (t) => {
  const file = join(dir, 'v2.db');
  const db = new Database(file);
  migrate(db, migrations.slice(0, 2));
  const row = db.prepare(`INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
    VALUES (?, ?, ?, NULL, 'c', ?, ?, ?, 1, '{}')`);
  row.run('a', 'order', 'h1', 'completed', 10, 15);
  row.run('b', 'order', 'h1', 'running', 20, 20);
  row.run('c', 'order', 'h2', 'compensated', 30, 100);
  row.run('d', 'trip', 'h9', 'running', 40, 40);
  db.close();

  const store = openStore(file);
  t.teardown(() => store.close());
  t.same(store.definitionVersions('order'), [
    { hash: 'h2', count: 1, byStatus: { compensated: 1 }, firstCreatedAt: 30, lastCreatedAt: 30 },
    { hash: 'h1', count: 2, byStatus: { completed: 1, running: 1 }, firstCreatedAt: 10, lastCreatedAt: 20 },
  ]);
  t.same(store.countByStatus(), [
    { saga: 'order', status: 'compensated', count: 1 }, { saga: 'order', status: 'completed', count: 1 }, { saga: 'order', status: 'running', count: 1 },
    { saga: 'trip', status: 'running', count: 1 },
  ]);
  t.same((await store.sagaDurations(0)).find((g) => g.saga === null && g.status === null), { saga: null, status: null, count: 2, p50: 5, p99: 70 });
  // Raw writes, as an admin's repair would do them, are counted by the triggers too.
  const raw = new Database(file);
  raw.prepare("UPDATE instances SET status = 'completed', updated_at = 29 WHERE id = 'b'").run();
  raw.prepare("DELETE FROM instances WHERE id = 'd'").run();
  raw.close();
  t.same(store.countByStatus(), [{ saga: 'order', status: 'compensated', count: 1 }, { saga: 'order', status: 'completed', count: 2 }]);
  t.same((await store.sagaDurations(0)).find((g) => g.saga === 'order' && g.status === 'completed'), { saga: 'order', status: 'completed', count: 2, p50: 5, p99: 9 });
});
