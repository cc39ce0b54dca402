import pg from 'pg';
import t from 'tap';
import { openPostgresStore, pgMigrations, pgSchemaVersion } from '../../../engine/store/postgres/index.js';
import { encodeBatch, prepareWrite } from '../../../engine/store/postgres/encode.js';
import { migratePg } from '../../../engine/store/postgres/schema.js';
import { startPostgres } from '../../helpers/postgres.js';
import { changeOf, committed, decision, reply, startDecision, TestEnv, writeOf } from './writes.js';

const server = await startPostgres();
t.teardown(() => server.stop());

t.test('a database of schema v4 with unsent rows upgrades: the rows stay, still go out, and new rows of their instances know them not', async (t) => {
  const url = await server.createDatabase();
  const c = new pg.Client(url);
  await c.connect();
  t.teardown(() => c.end());
  await migratePg(c, 'v4', pgMigrations.filter((m) => m.version <= 4));
  // A start committed by a build of schema v4 (its sagad_apply ignores the instance column it is given).
  const env = new TestEnv();
  const d = startDecision(env, 'i-1');
  const { inputs, rows } = encodeBatch([prepareWrite(writeOf('start-i-1', changeOf(0, d)), 100)]);
  await c.query('SELECT sagad_apply($1::jsonb, $2::text[], $3::bigint, $4::jsonb)', [inputs, [], Date.now(), rows]);

  const port = await openPostgresStore(url);
  t.teardown(() => port.close());
  const versions = (await c.query<{ version: number }>('SELECT version FROM sagad_schema ORDER BY version')).rows.map((r) => r.version);
  t.same(versions, Array.from({ length: pgSchemaVersion }, (_, i) => i + 1), 'migrated to this build\'s schema');
  const [old] = await port.claimUnsent(10, Date.now() + 1000, 0);
  t.ok(old !== undefined, 'the unsent row of v4 is still there to send');
  const next = decision(env, d.state, reply(d.state, 'reserve', 'Done', env));
  const o = await committed(port, writeOf('m-1', changeOf(d.state.version, next)));
  t.same(o.outbox.map((r) => r.follows), o.outbox.map(() => undefined), 'a row without an instance is not followed (ordered as before the upgrade)');
  const again = await port.commit(writeOf('m-2', changeOf(next.state.version, decision(env, next.state, reply(next.state, 'charge', 'Done', env)))));
  t.equal(again.status, 'committed');
  if (again.status === 'committed') {
    t.same(again.outbox[0]?.follows, o.outbox.map((r) => r.seq), 'rows written after the upgrade are');
  }
});

t.test('a database of schema v6 upgrades to deleting sent rows: rows marked sent before are pruned, unsent ones still go out', async (t) => {
  const url = await server.createDatabase();
  const c = new pg.Client(url);
  await c.connect();
  t.teardown(() => c.end());
  await migratePg(c, 'v6', pgMigrations.filter((m) => m.version <= 6));
  const env = new TestEnv();
  // Two starts committed by a build of schema v6, each writing its first command.
  for (const id of ['i-1', 'i-2']) {
    const { inputs, rows } = encodeBatch([prepareWrite(writeOf(`start-${id}`, changeOf(0, startDecision(env, id))), 100)]);
    await c.query('SELECT sagad_apply($1::jsonb, $2::text[], $3::bigint, $4::jsonb)', [inputs, [], Date.now(), rows]);
  }
  const written = (await c.query<{ seq: number }>('SELECT seq::integer AS seq FROM outbox ORDER BY seq')).rows.map((r) => r.seq);
  t.equal(written.length, 2, 'a command each');
  // A v6 build marked a published row by setting its sent_at.
  const sentAt = Date.now();
  await c.query('UPDATE outbox SET sent_at = $1 WHERE seq = $2', [sentAt, written[0]]);

  const port = await openPostgresStore(url);
  t.teardown(() => port.close());
  const indexes = (await c.query<{ name: string }>("SELECT indexname AS name FROM pg_indexes WHERE tablename = 'outbox'")).rows.map((r) => r.name);
  t.notOk(indexes.includes('outbox_unsent'), 'the index of unsent rows by seq is gone');
  t.ok(indexes.includes('outbox_sent'), 'the index that prunes old sent rows stays');
  const unsent = await port.claimUnsent(10, Date.now() + 1000, 0);
  t.same(unsent.map((r) => r.seq), written.slice(1), 'the row marked sent before the upgrade is not handed out');
  t.equal((await port.gauges()).outboxBacklog, 1);
  t.equal(await port.pruneSent(sentAt), 0, 'sent at sentAt, not before');
  t.equal(await port.pruneSent(sentAt + 1), 1, 'the row sent before the upgrade is pruned');
  await port.markSent(written.slice(1), Date.now());
  const left = (await c.query<{ n: number }>('SELECT count(*)::integer AS n FROM outbox')).rows[0]?.n;
  t.equal(left, 0, 'a row marked sent after the upgrade is deleted at once');
  t.equal((await port.gauges()).outboxBacklog, 0);
  t.equal(await port.pruneSent(1e15), 0, 'nothing is left to prune');
});
