import pg from 'pg';
import t from 'tap';
import { encodeBatch, prepareWrite } from '../../engine/store/postgres/encode.js';
import { openPostgresStore, pgMigrations, pgSchemaVersion } from '../../engine/store/postgres/index.js';
import { migratePg } from '../../engine/store/postgres/schema.js';
import type { InputWrite } from '../../engine/store/port.js';
import { startPostgres } from '../helpers/postgres.js';
import { changeOf, decision, reply, startDecision, TestEnv, writeOf } from './contract/writes.js';

// Schema v11 replaces sagad_apply in a database of v10: an input's version check covers the
// instances it read without changing them (the contract's reads.ts checks what it does).

const server = await startPostgres();
t.teardown(() => server.stop());

/** One write through `sagad_apply` as a build calls it, with `lock_ids` as given; its outcome. */
async function apply(c: pg.Client, w: InputWrite, lockIds: readonly string[]): Promise<unknown> {
  const { inputs, rows } = encodeBatch([prepareWrite(w, 100)]);
  const r = await c.query<{ r: { r: unknown[] } }>('SELECT sagad_apply($1::jsonb, $2::text[], $3::bigint, $4::jsonb) AS r', [inputs, lockIds, Date.now(), rows]);
  return r.rows[0]?.r.r[0];
}

t.test('a database of schema v10 upgrades to v11 once, with replicas opening at once; then a stale read is a conflict, and an input naming no reads commits as before', async (t) => {
  const url = await server.createDatabase();
  const c = new pg.Client(url);
  await c.connect();
  t.teardown(() => c.end());
  await migratePg(c, 'v10', pgMigrations.filter((m) => m.version <= 10));
  const env = new TestEnv();
  const starts = ['i-a', 'i-b'].map((id) => startDecision(env, id));
  for (const d of starts) t.equal(await apply(c, writeOf(`start-${d.state.id}`, changeOf(0, d)), []), 'c');
  const [a, b] = starts.map((d) => d.state);
  if (a === undefined || b === undefined) throw new Error('two instances started');
  const b1 = decision(env, b, reply(b, 'reserve', 'Done', env));
  t.equal(await apply(c, writeOf('m-b', changeOf(b.version, b1)), [b.id]), 'c');
  const a1 = decision(env, a, reply(a, 'reserve', 'Done', env));
  const stale: InputWrite = { ...writeOf('m-a', changeOf(a.version, a1)), reads: [{ instanceId: b.id, version: b.version }] };
  // v10 reads no `r`: the stale read goes unnoticed (the race v11 closes). Rolled back, to try again after the upgrade.
  await c.query('BEGIN');
  t.equal(await apply(c, stale, [a.id, b.id]), 'c', 'v10 commits a write whose read is stale');
  await c.query('ROLLBACK');

  const ports = await Promise.all([1, 2, 3].map(() => openPostgresStore(url)));
  t.teardown(() => Promise.all(ports.map((p) => p.close())));
  const versions = (await c.query<{ version: number }>('SELECT version FROM sagad_schema ORDER BY version')).rows.map((r) => r.version);
  t.same(versions, Array.from({ length: pgSchemaVersion }, (_, i) => i + 1), 'each step applied once');
  t.ok(pgSchemaVersion >= 11, 'v11 among them');

  const replica = ports[1];
  if (replica === undefined) throw new Error('three stores opened');
  t.same(await replica.commit(stale), { status: 'conflict', instanceId: b.id }, 'the stale read is a conflict');
  t.same(await replica.getInstance(a.id), a, 'and wrote nothing');
  // A replica of the previous build names no reads (nor locks them): its input is decided as v10 did.
  const { reads: _, ...old } = stale;
  t.equal(await apply(c, old, [a.id]), 'c', 'an input without reads commits');
  t.same(await replica.getInstance(a.id), a1.state);
});
