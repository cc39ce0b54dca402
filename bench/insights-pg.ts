/**
 * The console's figures on PostgreSQL with 1,000,000 finished instances of one saga (sagad's
 * own schema, rows written by one INSERT ... SELECT from generate_series with a real state
 * document; saga times 0.2 to 30 s): EXPLAIN (ANALYZE, BUFFERS) of the counts by state, the
 * counts per version and the saga-time histogram, and the store port's calls timed
 * (PG_DROP_INDEX=1: then again without the index of schema version 2).
 *
 *   npx tsc -p bench/tsconfig.json && node dist/bench/insights-pg.js [sqlite file to take a state document from]
 */
import { loadavg } from 'node:os';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openPostgresStore } from '../engine/store/postgres/index.js';
import { startPostgres } from '../test/helpers/postgres.js';

const server = await startPostgres();
try {
  const url = await server.createDatabase();
  const port = await openPostgresStore(url);
  console.log(`load: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  // A real state document: from the file given (bench/ui.ts keeps one with UI_BENCH_DB), else a small stand-in.
  let tpl = { state: JSON.stringify({ id: 'o-template', status: 'completed', steps: {} }), definition_hash: 'bench-hash' };
  const from = process.argv[2];
  if (from !== undefined) {
    const sq = new Database(from, { readonly: true });
    tpl = sq.prepare("SELECT state, definition_hash FROM instances WHERE status = 'completed' LIMIT 1").get() as typeof tpl;
    sq.close();
  }
  console.log(`state document: ${tpl.state.length} bytes`);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  let t = performance.now();
  await c.query(`INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
    SELECT 'i-' || lpad(g::text, 8, '0'), 'order-fulfillment', $2, 'o-' || g, 'c-' || g,
      CASE WHEN g % 10 = 7 THEN 'compensated' ELSE 'completed' END,
      $3::bigint + g, $3::bigint + g + 200 + (random() * 29800)::bigint, 12, replace($1, 'o-template', 'o-' || g)
    FROM generate_series(1, 1000000) g`, [tpl.state, tpl.definition_hash, Date.now() - 2_000_000]);
  console.log('inserted in', ((performance.now() - t) / 1000).toFixed(1), 's');
  // As autovacuum would after the inserts: index-only scans need the pages marked all-visible.
  await c.query('VACUUM ANALYZE instances');
  const size = await c.query("SELECT pg_size_pretty(pg_total_relation_size('instances')) AS s");
  console.log('instances size', (size.rows[0] as { s: string }).s);
  const explain = async (label: string, sql: string, params: unknown[]) => {
    for (let i = 0; i < 2; i++) {
      t = performance.now();
      const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      console.log(`--- ${label} (${(performance.now() - t).toFixed(0)} ms)`);
      if (i === 1) console.log(r.rows.map((x: Record<string, string>) => x['QUERY PLAN']).join('\n'));
    }
  };
  const queries = async () => {
    await explain('gauges', 'SELECT saga, status, count(*)::integer AS count FROM instances GROUP BY saga, status ORDER BY saga, status', []);
    await explain('versions', `SELECT definition_hash AS hash, status, count(*)::integer AS count, min(created_at) AS first, max(created_at) AS last
          FROM instances WHERE saga = $1 GROUP BY definition_hash, status`, ['order-fulfillment']);
    await explain('durations', `SELECT saga, status, updated_at - created_at AS ms, count(*)::integer AS count FROM instances
          WHERE status IN ('completed', 'compensated') AND created_at >= $1
          GROUP BY saga, status, updated_at - created_at`, [0]);
    for (const [label, fn] of [['port.gauges', () => port.gauges()], ['port.definitionVersions', () => port.definitionVersions('order-fulfillment')], ['port.sagaDurations', () => port.sagaDurations(0)]] as const) {
      t = performance.now();
      await fn();
      console.log(label, (performance.now() - t).toFixed(0), 'ms');
    }
  };
  await queries();
  // PG_DROP_INDEX=1: the same without the index schema version 2 adds, to see what it is worth.
  if (process.env.PG_DROP_INDEX === '1') {
    await c.query('DROP INDEX instances_saga_version_status');
    console.log('\n=== without instances_saga_version_status');
    await queries();
  }
  console.log(`load: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  await c.end();
  await port.close();
} finally {
  await server.stop();
}
