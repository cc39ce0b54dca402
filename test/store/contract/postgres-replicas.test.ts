import pg from 'pg';
import t, { type Test } from 'tap';
import type { StorePort } from '../../../engine/store/port.js';
import { openPostgresStore, pgSchemaVersion } from '../../../engine/store/postgres/index.js';
import { startPostgres } from '../../helpers/postgres.js';
import { changeOf, decision, reply, started, startDecision, TestEnv, writeOf } from './writes.js';

// Several adapters on one database stand for several sagad replicas.
const server = await startPostgres();
t.teardown(() => server.stop());

async function replicas(t: Test, n: number, url?: string): Promise<{ url: string; ports: StorePort[] }> {
  const db = url ?? (await server.createDatabase());
  const ports = await Promise.all(Array.from({ length: n }, () => openPostgresStore(db)));
  t.teardown(() => Promise.all(ports.map((p) => p.close())));
  return { url: db, ports };
}

t.test('replicas starting at once migrate once', async (t) => {
  const url = await server.createDatabase();
  const { ports } = await replicas(t, 6, url);
  t.equal(ports.length, 6, 'all opened');
  const c = new pg.Client(url);
  await c.connect();
  t.teardown(() => c.end());
  const rows = (await c.query<{ version: number }>('SELECT version FROM sagad_schema ORDER BY version')).rows;
  t.same(rows.map((r) => r.version), Array.from({ length: pgSchemaVersion }, (_, i) => i + 1));
  const env = new TestEnv();
  await started(ports[0] as StorePort, env, 'i-1');
  t.equal((await ports[5]?.getInstance('i-1'))?.id, 'i-1', 'one database behind them all');
});

t.test('a newer schema and a foreign database are refused', async (t) => {
  const newer = await server.createDatabase();
  await (await openPostgresStore(newer)).close();
  const c = new pg.Client(newer);
  await c.connect();
  await c.query("INSERT INTO sagad_schema (version, description) VALUES (999, 'from the future')");
  await c.end();
  await t.rejects(openPostgresStore(newer), { code: 'SAGA_ERR_SCHEMA_VERSION', message: /999, newer than this build/ });
  await t.rejects(openPostgresStore(newer, { readonly: true }), { code: 'SAGA_ERR_SCHEMA_VERSION' });

  const foreign = await server.createDatabase();
  const f = new pg.Client(foreign);
  await f.connect();
  await f.query('CREATE TABLE instances (x int)');
  await f.end();
  await t.rejects(openPostgresStore(foreign), { code: 'SAGA_ERR_SCHEMA_VERSION', message: /not a sagad database/ });
  const empty = await server.createDatabase();
  await t.rejects(openPostgresStore(empty, { readonly: true }), { code: 'SAGA_ERR_SCHEMA_VERSION', message: /not a sagad database/ });
});

t.test('two replicas deciding on the same version: exactly one commits', async (t) => {
  const { ports: [a, b] } = await replicas(t, 2);
  if (a === undefined || b === undefined) throw new Error('no replicas');
  const env = new TestEnv();
  const states = [];
  for (let i = 0; i < 30; i++) states.push(await started(a, env, `i-${i}`));
  const outcomes = await Promise.all(states.flatMap((s) => [
    a.commit(writeOf(`a-${s.id}`, changeOf(s.version, decision(env, s, reply(s, 'reserve', 'Done', env))))),
    b.commit(writeOf(`b-${s.id}`, changeOf(s.version, decision(env, s, reply(s, 'reserve', 'Nope', env))))),
  ]));
  for (let i = 0; i < states.length; i++) {
    const pair = [outcomes[2 * i]?.status, outcomes[2 * i + 1]?.status].sort();
    t.same(pair, ['committed', 'conflict'], `instance i-${i}`);
  }
  for (const s of states) {
    const now = await b.getInstance(s.id);
    t.equal((await a.history(s.id)).length, now?.version, `journal and projection of ${s.id} agree`);
  }
});

t.test('two replicas starting the same key or the same message: one instance', async (t) => {
  const { ports: [a, b] } = await replicas(t, 2);
  if (a === undefined || b === undefined) throw new Error('no replicas');
  const env = new TestEnv();
  const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => [
    a.commit(writeOf(`a-${i}`, changeOf(0, startDecision(env, `a-${i}`, { key: `k-${i}` })))),
    b.commit(writeOf(`b-${i}`, changeOf(0, startDecision(env, `b-${i}`, { key: `k-${i}` })))),
    a.commit(writeOf(`same-${i}`, changeOf(0, startDecision(env, `c-${i}`)))),
    b.commit(writeOf(`same-${i}`, changeOf(0, startDecision(env, `d-${i}`)))),
  ]).flat());
  for (let i = 0; i < 20; i++) {
    const o = outcomes.slice(4 * i, 4 * i + 4).map((x) => x.status);
    t.same([o[0], o[1]].sort(), ['committed', 'conflict'], `key k-${i}`);
    t.same([o[2], o[3]].sort(), ['committed', 'duplicate'], `message same-${i}`);
  }
  t.equal((await a.listInstances({ limit: 500 })).items.length, 40);
});

t.test('replicas claiming at once never take the same timer or outbox row', async (t) => {
  const { ports } = await replicas(t, 3);
  const [first] = ports;
  if (first === undefined) throw new Error('no replicas');
  const env = new TestEnv();
  await Promise.all(Array.from({ length: 60 }, (_, i) => started(first, env, `i-${i}`)));
  const due = env.now + 1e9;
  const timers: string[] = [];
  const rows: number[] = [];
  await Promise.all(ports.map(async (p) => {
    for (;;) {
      const [ts, os] = await Promise.all([p.claimDueTimers(due, 7, 60_000), p.claimUnsent(5, Date.now() + 1000, 60_000)]);
      if (ts.length === 0 && os.length === 0) return;
      timers.push(...ts.map((r) => `${r.instanceId}/${r.timerId}`));
      rows.push(...os.map((r) => r.seq));
    }
  }));
  t.equal(timers.length, 120, 'every timer (an attempt timeout and a deadline each) claimed');
  t.equal(new Set(timers).size, 120, 'none twice');
  t.equal(rows.length, 60, 'every outbox row claimed');
  t.equal(new Set(rows).size, 60, 'none twice');
});

t.test('claimUnsent with claimMs 0 looks without claiming', async (t) => {
  const { ports: [a, b] } = await replicas(t, 2);
  if (a === undefined || b === undefined) throw new Error('no replicas');
  await started(a, new TestEnv(), 'i-1');
  const later = Date.now() + 1000;
  t.equal((await a.claimUnsent(10, later, 0)).length, 1);
  t.equal((await b.claimUnsent(10, later, 0)).length, 1, 'still there for a look');
  t.equal((await b.claimUnsent(10, later, 60_000)).length, 1, 'and for a claim');
  t.same(await a.claimUnsent(10, later, 0), [], 'a look does not see a claimed row');
});

t.test('a claim that runs out passes to another replica', async (t) => {
  const { ports: [a, b] } = await replicas(t, 2);
  if (a === undefined || b === undefined) throw new Error('no replicas');
  await started(a, new TestEnv(), 'i-1');
  const now = Date.now() + 1e9;
  t.equal((await a.claimDueTimers(now, 10, 5_000)).length, 2, 'a claims');
  t.same(await b.claimDueTimers(now, 10, 5_000), [], 'b finds them claimed');
  t.equal(await b.nextDueAt(), now + 5_000, 'the next time a claim can succeed');
  t.equal((await b.claimDueTimers(now + 5_000, 10, 5_000)).length, 2, 'a died: b takes them when the claim runs out');
});

t.test('a write PostgreSQL refuses fails alone, not the batch it shared', async (t) => {
  const { ports: [a] } = await replicas(t, 1);
  if (a === undefined) throw new Error('no replica');
  const env = new TestEnv();
  const writes = Array.from({ length: 10 }, (_, i) => writeOf(i === 4 ? 'bad-\u0000-id' : `m-${i}`, changeOf(0, startDecision(env, `i-${i}`))));
  const outcomes = await Promise.allSettled(writes.map((w) => a.commit(w)));
  t.same(outcomes.map((o) => o.status), [...Array<string>(4).fill('fulfilled'), 'rejected', ...Array<string>(5).fill('fulfilled')]);
  t.equal((await a.listInstances()).items.length, 9);
  t.equal(await a.getInstance('i-4'), undefined);
});

t.test('options in the URL reach the server: sagad in a schema of its own, read-only opens too', async (t) => {
  const url = await server.createDatabase();
  const c = new pg.Client(url);
  await c.connect();
  await c.query('CREATE SCHEMA sagad');
  await c.query('CREATE TABLE public.instances (x int)');
  const inSchema = `${url}?options=${encodeURIComponent('-c search_path=sagad')}`;
  const port = await openPostgresStore(inSchema);
  await started(port, new TestEnv(), 'i-1');
  await port.close();
  t.equal((await c.query("SELECT count(*)::int AS n FROM sagad.instances")).rows[0]?.n, 1, 'the tables are in schema sagad');
  const ro = await openPostgresStore(inSchema, { readonly: true });
  t.equal((await ro.getInstance('i-1'))?.id, 'i-1');
  await ro.close();
  await c.end();
});

t.test('two replicas keeping the same early event at once: the one that waited on the other\'s insert says kept, not full', async (t) => {
  const { url, ports } = await replicas(t, 1);
  const port = ports[0] as StorePort;
  await started(port, new TestEnv(), 'i-1');
  // The other replica's insert, in a transaction held open until this one's statement waits on it.
  const other = new pg.Client(url);
  await other.connect();
  t.teardown(() => other.end());
  await other.query('BEGIN');
  await other.query(`INSERT INTO early_events (instance_id, event_id, subject, type, kept_at, expires_at, headers, data)
    VALUES ('i-1', 'e-1', 'orders.approvals', 'OrderApproved', 1000, 10000, '{}', '\\x01')`);
  const keeping = port.keepEarlyEvent({
    instanceId: 'i-1', eventId: 'e-1', subject: 'orders.approvals', type: 'OrderApproved', keptAt: 1_000, expiresAt: 10_000,
    headers: { 'Nats-Msg-Id': 'e-1' }, data: new Uint8Array([1]),
  }, 100);
  const watch = new pg.Client(url);
  await watch.connect();
  t.teardown(() => watch.end());
  // Waits for the keep's statement to block on the uncommitted row (an event, polled).
  for (;;) {
    const r = await watch.query<{ n: number }>("SELECT count(*)::integer AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO early_events%'");
    if ((r.rows[0]?.n ?? 0) > 0) break;
  }
  await other.query('COMMIT');
  t.equal(await keeping, 'kept', 'the event is kept (by the other replica): not refused as if the instance kept too many');
  t.equal((await port.earlyEventsOf('i-1')).length, 1, 'once');
});
