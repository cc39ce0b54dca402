import pg from 'pg';
import { startPostgres } from '../test/helpers/postgres.js';
import { pidWith } from './proc.js';
import type { Db } from './targets.js';
import { runScenario, SCENARIOS } from './throughput.js';

/**
 * Where PostgreSQL's time goes in one sagad scenario: a bench PostgreSQL (fsync and
 * synchronous_commit on) with `pg_stat_statements` (nested statements too, so each statement
 * inside `sagad_apply` has its line) and `track_functions`, one sagad round of `SCENARIO`
 * (default c100), then per saga finished: the top statements by execution time with their
 * calls, rows, buffers and WAL, the functions, and each table's inserts, updates (HOT or not)
 * and deletes. Figures cover the whole run (warm-up and drain too), divided by every saga the
 * run finished; the server's CPU is the window's.
 *
 *   tsc -p bench/tsconfig.json && node dist/bench/pg-statements.js [c100]
 */
const name = process.argv[2] ?? 'c100';
const scenario = SCENARIOS.find((s) => s.name === name);
if (scenario === undefined) throw new Error(`no scenario ${name}`);
const seconds = Number(process.env.SECONDS ?? 6);

const server = await startPostgres();
const admin = async <T>(f: (c: pg.Client) => Promise<T>, url = server.url): Promise<T> => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
};
await admin(async (c) => {
  await c.query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  await c.query("ALTER SYSTEM SET track_functions = 'all'");
  await c.query('ALTER SYSTEM SET track_io_timing = on');
});
await server.restart();
await admin(async (c) => {
  await c.query('CREATE EXTENSION pg_stat_statements');
  await c.query("ALTER SYSTEM SET pg_stat_statements.track = 'all'");
  await c.query('ALTER SYSTEM SET pg_stat_statements.track_planning = on');
  await c.query('SELECT pg_reload_conf()');
});
let dbUrl = '';
const db: Db = {
  kind: 'postgres',
  fresh: async () => (dbUrl = await server.createDatabase('stmts')),
  serverPid: () => pidWith(`\0-p\0${server.port}\0`),
  close: () => server.stop(),
};
try {
  await admin((c) => c.query('SELECT pg_stat_statements_reset()'));
  const r = await runScenario('sagad', scenario, { warmupMs: 2_000, durationMs: seconds * 1000, drainMs: 15_000 }, db);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`sagad ${name}: ${r.stepsPerSecond.toFixed(0)} steps/s, ${r.sagasPerSecond.toFixed(1)} sagas/s, sagad ${r.cpuMsPerSaga.toFixed(2)} CPU ms/saga, `
    + `PostgreSQL ${((r.dbCpuSeconds * 1000) / Math.max(1, r.finishedInWindow)).toFixed(2)} CPU ms/saga (window)`);
  const finished = await admin(async (c) => Number((await c.query<{ n: string }>("SELECT count(*) AS n FROM instances WHERE status IN ('completed', 'compensated')")).rows[0]?.n ?? 0), dbUrl);
  out(`${finished} sagas finished in the whole run; figures below are per saga`);
  const per = (x: number | string) => Number(x) / Math.max(1, finished);
  const stmts = await admin((c) => c.query<{ query: string; calls: string; plans: string; plan_ms: number; total: number; rows: string; hit: string; read: string; dirtied: string; wal_records: string; wal_bytes: string; toplevel: boolean }>(`
    SELECT s.query, s.calls, s.plans, s.total_plan_time AS plan_ms, s.total_exec_time AS total, s.rows, s.shared_blks_hit AS hit, s.shared_blks_read AS read, s.shared_blks_dirtied AS dirtied,
      s.wal_records, s.wal_bytes, s.toplevel
    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'stmts'
    ORDER BY s.total_exec_time DESC LIMIT 30`));
  out('\n  ms/saga  plan ms/saga  plans/call  calls/saga  rows/call  blks hit/saga  dirtied/saga  WAL rec/saga  WAL B/saga  top  statement');
  for (const s of stmts.rows) {
    const q = s.query.replace(/\s+/g, ' ').slice(0, 110);
    out(`  ${per(s.total).toFixed(3).padStart(7)}  ${per(s.plan_ms).toFixed(3).padStart(12)}  ${(Number(s.plans) / Math.max(1, Number(s.calls))).toFixed(2).padStart(10)}  ${per(s.calls).toFixed(2).padStart(10)}  ${(Number(s.rows) / Math.max(1, Number(s.calls))).toFixed(1).padStart(9)}  `
      + `${per(s.hit).toFixed(1).padStart(13)}  ${per(s.dirtied).toFixed(2).padStart(12)}  ${per(s.wal_records).toFixed(1).padStart(12)}  ${per(s.wal_bytes).toFixed(0).padStart(10)}  `
      + `${s.toplevel ? 'y' : 'n'}    ${q}`);
  }
  const fns = await admin((c) => c.query<{ funcname: string; calls: string; total_time: number; self_time: number }>(
    'SELECT funcname, calls, total_time, self_time FROM pg_stat_user_functions'), dbUrl);
  out('\n  function: calls/saga, total ms/saga, self ms/saga');
  for (const f of fns.rows) out(`  ${f.funcname}: ${per(f.calls).toFixed(2)}, ${per(f.total_time).toFixed(3)}, ${per(f.self_time).toFixed(3)}`);
  const tables = await admin((c) => c.query<{ relname: string; ins: string; upd: string; hot: string; del: string; idx: string; seq_scan: string; seq_tup_read: string }>(`
    SELECT t.relname, t.n_tup_ins AS ins, t.n_tup_upd AS upd, t.n_tup_hot_upd AS hot, t.n_tup_del AS del,
      (SELECT count(*) FROM pg_index i WHERE i.indrelid = t.relid) AS idx, t.seq_scan, t.seq_tup_read
    FROM pg_stat_user_tables t ORDER BY t.n_tup_ins + t.n_tup_upd + t.n_tup_del DESC`), dbUrl);
  out('\n  table: inserts, updates (HOT), deletes per saga; indexes; sequential scans, rows they read per saga');
  for (const t of tables.rows) {
    if (Number(t.ins) + Number(t.upd) + Number(t.del) + Number(t.seq_scan) === 0) continue;
    out(`  ${t.relname}: ${per(t.ins).toFixed(2)}, ${per(t.upd).toFixed(2)} (${per(t.hot).toFixed(2)}), ${per(t.del).toFixed(2)}; ${t.idx}; ${t.seq_scan}, ${per(t.seq_tup_read).toFixed(1)}`);
  }
  const wal = await admin((c) => c.query<{ wal_records: string; wal_fpi: string; wal_bytes: string }>('SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal'));
  const w = wal.rows[0];
  if (w !== undefined) out(`\n  WAL of the whole server: ${per(w.wal_records).toFixed(1)} records, ${per(w.wal_fpi).toFixed(2)} full pages, ${per(w.wal_bytes).toFixed(0)} bytes per saga`);
  const sizes = await admin((c) => c.query<{ state: string; outbox: string; journal: string }>(`
    SELECT (SELECT avg(octet_length(state)) FROM instances) AS state, (SELECT avg(octet_length(data) + octet_length(headers)) FROM outbox) AS outbox,
      (SELECT avg(octet_length(data)) FROM journal) AS journal`), dbUrl);
  const z = sizes.rows[0];
  if (z !== undefined) out(`  average bytes: state ${Number(z.state).toFixed(0)}, outbox data+headers ${Number(z.outbox).toFixed(0)}, journal data ${Number(z.journal).toFixed(0)}`);
  if (process.env.KEEP === '1') {
    out(`\nkept running: ${dbUrl} (Ctrl-C or kill ${process.pid} to stop)`);
    await new Promise<void>((resolve) => process.once('SIGTERM', resolve).once('SIGINT', resolve));
  }
} finally {
  await db.close();
}
// Kept running (KEEP=1), something of the run may still hold the event loop once the server stopped.
process.exit(0);
