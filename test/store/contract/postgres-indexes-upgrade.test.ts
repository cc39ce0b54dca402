import pg from 'pg';
import t from 'tap';
import { openPostgresStore, pgMigrations, pgSchemaVersion } from '../../../engine/store/postgres/index.js';
import { encodeBatch, prepareWrite } from '../../../engine/store/postgres/encode.js';
import { migratePg } from '../../../engine/store/postgres/schema.js';
import { startPostgres } from '../../helpers/postgres.js';
import { changeOf, startDecision, TestEnv, writeOf } from './writes.js';

const server = await startPostgres();
t.teardown(() => server.stop());

t.test('a database of schema v7 upgrades to ascending list indexes: the lists still read newest first, along the index', async (t) => {
  const url = await server.createDatabase();
  const c = new pg.Client(url);
  await c.connect();
  t.teardown(() => c.end());
  await migratePg(c, 'v7', pgMigrations.filter((m) => m.version <= 7));
  const rows: [string, string, string, number][] = [
    ['i-1', 'order', 'completed', 10], ['i-2', 'order', 'running', 20], ['i-3', 'order', 'running', 30],
    ['i-4', 'refund', 'completed', 30], ['i-5', 'order', 'compensated', 40],
  ];
  for (const [id, saga, status, at] of rows) {
    await c.query(`INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
      VALUES ($1, $2, 'h', NULL, 'c', $3, $4, $4, 1, '{}')`, [id, saga, status, at]);
  }

  const port = await openPostgresStore(url);
  t.teardown(() => port.close());
  const versions = (await c.query<{ version: number }>('SELECT version FROM sagad_schema ORDER BY version')).rows.map((r) => r.version);
  t.same(versions, Array.from({ length: pgSchemaVersion }, (_, i) => i + 1), 'migrated to this build\'s schema');
  const defs = (await c.query<{ name: string; def: string }>(
    "SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE tablename = 'instances' AND indexname LIKE '%created' ORDER BY 1")).rows;
  t.same(defs.map((d) => [d.name, /DESC/.test(d.def)]),
    [['instances_created', false], ['instances_saga_created', false], ['instances_status_created', false]], 'every list index ascending');

  t.same((await port.listInstances()).items.map((i) => i.id), ['i-5', 'i-4', 'i-3', 'i-2', 'i-1']);
  const first = await port.listInstances({ saga: 'order', limit: 2 });
  t.same(first.items.map((i) => i.id), ['i-5', 'i-3']);
  t.same((await port.listInstances({ saga: 'order', limit: 2, cursor: first.nextCursor })).items.map((i) => i.id), ['i-2', 'i-1']);
  t.same((await port.listInstances({ status: 'running' })).items.map((i) => i.id), ['i-3', 'i-2']);

  // Read backwards along the index, not sorted (the planner is steered to the index as a big table would).
  await c.query('SET enable_seqscan = off');
  for (const [where, index] of [['', 'instances_created'], ["WHERE saga = 'order'", 'instances_saga_created'], ["WHERE status = 'running'", 'instances_status_created']]) {
    const plan = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id, saga, status, created_at FROM instances ${where} ORDER BY created_at DESC, id DESC LIMIT 5`))
      .rows.map((r) => r['QUERY PLAN']).join('\n');
    t.match(plan, new RegExp(`Index (Only )?Scan Backward using ${index}`), `${index} read backwards`);
    t.notMatch(plan, /Sort/, 'no sort');
  }
});

t.test('a database of schema v11 keeps its waits: after v12 they take every event of their type, new ones their correlation id\'s', async (t) => {
  const url = await server.createDatabase();
  const c = new pg.Client(url);
  await c.connect();
  t.teardown(() => c.end());
  await migratePg(c, 'v11', pgMigrations.filter((m) => m.version <= 11));
  await c.query("INSERT INTO waits (instance_id, step, subject, type) VALUES ('i-old', 'delivered', 'shipping.events', 'Delivered')");

  const port = await openPostgresStore(url);
  t.teardown(() => port.close());
  const old = { instanceId: 'i-old', step: 'delivered' };
  t.same(await port.waiting('shipping.events', 'Delivered', 'c-old'), [old], 'a wait written before names no correlation id: found as before');
  t.same(await port.waiting('shipping.events', 'Delivered', 'c-other'), [old], 'for every event of its type');
  await c.query("INSERT INTO waits (instance_id, step, subject, type, correlation_id) VALUES ('i-new', 'delivered', 'shipping.events', 'Delivered', 'c-new')");
  t.same(await port.waiting('shipping.events', 'Delivered', 'c-other'), [old], 'a new one not for another correlation id');
  t.same(await port.waiting('shipping.events', 'Delivered', 'c-new'), [old, { instanceId: 'i-new', step: 'delivered' }]);

  // A replica of the previous build, still running, writes a wait as it always did: five columns, no correlation id.
  const { inputs, rows } = encodeBatch([prepareWrite(writeOf('m-prev', changeOf(0, startDecision(new TestEnv(), 'i-prev'),
    { put: [{ step: 'delivered', subject: 'shipping.events', type: 'Delivered', correlationId: 'c-prev' }], remove: [] })), 100)]);
  const parsed = JSON.parse(rows) as { wp: unknown[][] };
  const previous = JSON.stringify({ ...parsed, wp: parsed.wp.map((r) => r.slice(0, 5)) });
  await c.query('SELECT sagad_apply($1::jsonb, $2::text[], $3::bigint, $4::jsonb)', [inputs, [], Date.now(), previous]);
  t.same(await port.waiting('shipping.events', 'Delivered', 'c-other'), [old, { instanceId: 'i-prev', step: 'delivered' }],
    'its wait is offered every event of its type, as that build reads them');

  const defs = (await c.query<{ name: string }>("SELECT indexname AS name FROM pg_indexes WHERE tablename = 'waits' AND indexname <> 'waits_pkey'")).rows;
  t.same(defs, [{ name: 'waits_correlation' }], 'the index by type alone replaced');
  await c.query('SET enable_seqscan = off');
  const plan = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT instance_id FROM waits
    WHERE subject = ANY ('{shipping.events}') AND type = ANY ('{Delivered}') AND (correlation_id IS NULL OR correlation_id = ANY ('{c-new}')) ORDER BY ord`))
    .rows.map((r) => r['QUERY PLAN']).join('\n');
  t.match(plan, /waits_correlation/, 'read through it');
});
