import { join } from 'node:path';
import t from 'tap';
import { openPostgresStore } from '../../engine/store/postgres/index.js';
import { openSqlitePort } from '../../engine/store/sqlite-port.js';
import type { StorePort } from '../../engine/store/port.js';
import { startPostgres } from '../helpers/postgres.js';
import { changeOf, startDecision, TestEnv, writeOf } from '../store/contract/writes.js';

/**
 * Both adapters' group commit tell the metrics each shared commit's size: writes made in one
 * turn of the event loop are one commit (SQLite) or one `sagad_apply` batch (PostgreSQL); a
 * transaction rolled back (a duplicate alone in it, a closed store) counts nothing.
 */
type Seen = { size: number; seconds: number }[];

/** Starts `n` instances at once (one turn of the event loop), then one more on its own. */
async function commitBurst(port: StorePort, env: TestEnv, prefix: string, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => port.commit(writeOf(`${prefix}-${i}`, changeOf(0, startDecision(env, `${prefix}-${i}`))))));
  await port.commit(writeOf(`${prefix}-alone`, changeOf(0, startDecision(env, `${prefix}-alone`))));
}

t.test('SQLite: one observation per shared transaction, with the number of inputs in it', async (t) => {
  const seen: Seen = [];
  const port = await openSqlitePort(join(t.testdir(), 'c.db'), { onCommit: (size, seconds) => seen.push({ size, seconds }) });
  t.teardown(() => port.close());
  await commitBurst(port, new TestEnv(), 'i', 5);
  t.same(seen.map((s) => s.size), [5, 1], 'five together, then one alone');
  t.ok(seen.every((s) => s.seconds >= 0 && Number.isFinite(s.seconds)), 'durations in seconds');
  // A duplicate alone writes nothing: its empty transaction is no commit for the metrics.
  t.match(await port.commit(writeOf('i-0', changeOf(0, startDecision(new TestEnv(), 'again')))), { status: 'duplicate' });
  t.equal(seen.length, 2, 'a transaction that wrote nothing is no commit');
  await port.close();
  await t.rejects(port.commit(writeOf('late', changeOf(0, startDecision(new TestEnv(), 'late')))));
  t.equal(seen.length, 2, 'nor is a failed one');
});

t.test('PostgreSQL: one observation per sagad_apply batch, with its size', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  const seen: Seen = [];
  const port = await openPostgresStore(await server.createDatabase(), { onCommit: (size, seconds) => seen.push({ size, seconds }), commitsInFlight: 1 });
  t.teardown(() => port.close());
  await commitBurst(port, new TestEnv(), 'p', 5);
  t.same(seen.map((s) => s.size), [5, 1], 'five in one batch, then one alone');
  t.ok(seen.every((s) => s.seconds >= 0 && Number.isFinite(s.seconds)), 'durations in seconds');
});
