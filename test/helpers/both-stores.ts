import { join } from 'node:path';
import t, { type Test } from 'tap';
import { openStore } from '../../engine/store/index.js';
import { openPostgresStore } from '../../engine/store/postgres/index.js';
import type { StorePort } from '../../engine/store/port.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { startPostgres } from './postgres.js';

/**
 * Runs `scenarios` on both store adapters, as the subtests `sqlite` (each open a fresh file in
 * the test's directory) and `postgres` (a real PostgreSQL 15 started for them, each open a fresh
 * database). Every store opened is closed when the test that opened it ends.
 */
export function onBothStores(scenarios: (t: Test, open: () => Promise<StorePort>) => Promise<void>): void {
  let n = 0;
  t.test('sqlite', async (t) => {
    await scenarios(t, async () => {
      const store = openStore(join(t.testdir(), `store-${++n}.db`));
      t.teardown(() => store.close());
      return sqlitePort(store);
    });
  });
  t.test('postgres', async (t) => {
    const server = await startPostgres();
    t.teardown(() => server.stop());
    await scenarios(t, async () => {
      const store = await openPostgresStore(await server.createDatabase());
      t.teardown(() => store.close());
      return store;
    });
  });
}
