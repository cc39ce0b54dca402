import pg from 'pg';
import t from 'tap';
import { openPostgresStore } from '../../../engine/store/postgres/index.js';
import { encodeBatch, prepareWrite } from '../../../engine/store/postgres/encode.js';
import { FIND_BY_KEYS_SQL, REPLY_TARGETS_SQL } from '../../../engine/store/postgres/reads.js';
import { startPostgres } from '../../helpers/postgres.js';
import { changeOf, decision, reply, startDecision, TestEnv, writeOf } from './writes.js';

// Issue 9: a plan PostgreSQL caches while a table is small (a new database, before autovacuum
// first analyzes it) is kept as the table grows. The step path's statements must use their
// indexes even then, or every step reads whole tables once sagad has run for a while.

const server = await startPostgres();
t.teardown(() => server.stop());

interface PlanNode { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] }

function scans(n: PlanNode): string[] {
  const own = n['Node Type'] === 'Seq Scan' ? [n['Relation Name'] ?? '?'] : [];
  return [...own, ...(n.Plans ?? []).flatMap(scans)];
}

t.test('the step reads keep an index scan in the plan cached for a small, never-analyzed table', async (t) => {
  const url = await server.createDatabase();
  const port = await openPostgresStore(url);
  const env = new TestEnv();
  for (let i = 0; i < 3; i++) {
    const d = startDecision(env, `i-${i}`, { key: `k-${i}` });
    t.equal((await port.commit(writeOf(`m-${i}`, changeOf(0, d)))).status, 'committed');
  }
  await port.close();
  const c = new pg.Client(url);
  await c.connect();
  t.teardown(() => c.end());
  await c.query('SET plan_cache_mode = force_generic_plan');
  await c.query(`PREPARE targets(text[]) AS ${REPLY_TARGETS_SQL}`);
  await c.query(`PREPARE keys(text[], text[]) AS ${FIND_BY_KEYS_SQL}`);
  const planOf = async (sql: string): Promise<PlanNode> =>
    (await c.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${sql}`)).rows[0]?.['QUERY PLAN'][0].Plan ?? { 'Node Type': 'none' };
  t.same(scans(await planOf("EXECUTE targets('{a,b,c}')")), [], 'reply targets: no sequential scan');
  t.same(scans(await planOf("EXECUTE keys('{s,s}', '{a,b}')")), [], 'starts by key: no sequential scan');
  // The query the reply-target read replaced, as a check that this setup would show the scan.
  await c.query('PREPARE joined(text[]) AS SELECT c.command_id, i.state FROM commands c JOIN instances i ON i.id = c.instance_id WHERE c.command_id = ANY ($1)');
  t.ok(scans(await planOf("EXECUTE joined('{a,b,c}')")).length > 0, 'the plain join is planned as a scan of the small table');
});

t.test('sagad_apply reads no table sequentially, also once its statements use cached generic plans', async (t) => {
  const url = await server.createDatabase();
  const port = await openPostgresStore(url);
  await port.close();
  // A connection of its own: pg_stat_xact_user_tables shows this backend's counts not yet
  // reported, so they must all come from the transaction below (v5's function scans
  // instances and timers here).
  const c = new pg.Client(url);
  await c.connect();
  t.teardown(() => c.end());
  const env = new TestEnv();
  const apply = async (writes: ReturnType<typeof writeOf>[]): Promise<unknown> => {
    const { inputs, rows } = encodeBatch(writes.map((w) => prepareWrite(w, 100)));
    const ids = [...new Set(writes.flatMap((w) => w.changes.filter((ch) => ch.expectedVersion > 0).map((ch) => ch.state.id)))].sort();
    return (await c.query<{ r: { r: unknown[] } }>('SELECT sagad_apply($1::jsonb, $2::text[], $3::bigint, $4::jsonb) AS r', [inputs, ids, Date.now(), rows])).rows[0]?.r.r;
  };
  await c.query('BEGIN');
  // Ten batches in one session (the sixth call of a statement is where PostgreSQL may switch
  // to its generic plan): starts, then a step of each instance, one of them a duplicate.
  let states = Array.from({ length: 4 }, (_, i) => startDecision(env, `i-${i}`));
  t.same(await apply(states.map((d, i) => writeOf(`start-${i}`, changeOf(0, d)))), ['c', 'c', 'c', 'c']);
  const steps = ['reserve', 'charge', 'ship'] as const;
  for (let round = 0; round < 9; round++) {
    const step = steps[round % 3] ?? 'reserve';
    if (round % 3 === 0 && round > 0) {
      states = Array.from({ length: 4 }, (_, i) => startDecision(env, `i-${round}-${i}`));
      t.same(await apply(states.map((d, i) => writeOf(`start-${round}-${i}`, changeOf(0, d)))), ['c', 'c', 'c', 'c']);
    }
    const next = states.map((d) => decision(env, d.state, reply(d.state, step, 'Done', env)));
    const writes = next.map((d, i) => writeOf(`r-${round}-${i}`, changeOf(states[i]?.state.version ?? 0, d)));
    t.same(await apply([...writes, writeOf(`r-${round}-0`, changeOf(0, startDecision(env, `dup-${round}`)))]), ['c', 'c', 'c', 'c', 'd'], `round ${round}`);
    states = next;
  }
  const seq = await c.query<{ relname: string; seq_scan: number }>(
    "SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE relname IN ('instances', 'journal', 'inbox', 'outbox', 'timers', 'commands', 'waits', 'snapshots') AND seq_scan > 0");
  await c.query('COMMIT');
  t.same(seq.rows, [], 'no sequential scan in the transaction');
});
