import pg from 'pg';
import t, { type Test } from 'tap';
import { INBOX_PRUNE_BATCH } from '../../engine/store/postgres/claims.js';
import { encodeBatch, prepareWrite } from '../../engine/store/postgres/encode.js';
import { openPostgresStore, pgMigrations, pgSchemaVersion } from '../../engine/store/postgres/index.js';
import { migratePg } from '../../engine/store/postgres/schema.js';
import { startPostgres } from '../helpers/postgres.js';
import { changeOf, committed, decision, reply, startDecision, started, TestEnv, writeOf } from './contract/writes.js';

// The PostgreSQL store's own connections (a retention pass, the migration at open) survive the
// server ending them, the inbox is pruned in bounded statements, and schema v10 replaces
// sagad_apply in a database of v9 (the contract's outbox-order.ts checks what it does).

const server = await startPostgres();
t.teardown(() => server.stop());

async function adminOf(t: Test, url: string): Promise<pg.Client> {
  const c = new pg.Client(url);
  await c.connect();
  t.teardown(() => c.end());
  return c;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

t.test('a retention pass whose connection the server ends while the archive is written rejects as unavailable, and the process lives on', async (t) => {
  const url = await server.createDatabase();
  const store = await openPostgresStore(url);
  t.teardown(() => store.close());
  const admin = await adminOf(t, url);
  await admin.query(`INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
    VALUES ('done-1', 'order', 'h', NULL, 'c', 'completed', 1, 2, 1, '{"id":"done-1"}')`);
  let archived = 0;
  const failed = store.retire(1000, 10, async (batch) => {
    archived += batch.length;
    // A restart, a failover or idle_in_transaction_session_timeout ends the backend that holds
    // the pass's transaction; the client, checked out of the pool, gets the error meanwhile.
    const ended = await admin.query<{ pid: number; ok: boolean }>(
      "SELECT pid, pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'");
    t.same(ended.rows.map((r) => r.ok), [true], 'the pass\'s backend ended');
    // The pass goes on once the backend is gone, whether or not its client has heard yet.
    const pid = ended.rows[0]?.pid;
    while ((await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount !== 0) await sleep(10);
  });
  await t.rejects(failed, { code: 'SAGA_ERR_STORE_UNAVAILABLE' }, 'the pass fails as a store error worth retrying');
  t.equal(archived, 1);
  t.equal((await admin.query('SELECT id FROM instances')).rowCount, 1, 'nothing deleted: the transaction did not commit');
  // The dead connection was discarded, not handed out again: the next pass works.
  const again = await store.retire(1000, 10, async () => {});
  t.match(again, { archived: 1, deleted: 1 }, 'the next pass retires the instance');
  t.equal((await admin.query('SELECT id FROM instances')).rowCount, 0);
});

t.test('an open whose migration connection the server ends fails as unavailable, and the process lives on', async (t) => {
  const url = await server.createDatabase();
  const admin = await adminOf(t, url);
  // Another replica migrating: the open waits for its lock (schema.ts) on a connection of its own.
  const other = await adminOf(t, url);
  await other.query('SELECT pg_advisory_lock(7305472013)');
  // Settled from the start: the open may reject (its socket closed) before the terminate's own
  // answer reaches the admin client, so a handler attached only after that would come too late.
  const opening = openPostgresStore(url).then((s) => ({ opened: s }), (err: unknown) => ({ failed: err }));
  let pid: number | undefined;
  for (let i = 0; i < 200 && pid === undefined; i++) {
    await sleep(25);
    pid = (await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sagad' AND wait_event_type = 'Lock'")).rows[0]?.pid;
  }
  if (pid === undefined) throw new Error('the open never waited for the migration lock');
  await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  const outcome = await opening;
  if ('opened' in outcome) await outcome.opened.close();
  t.match(outcome, { failed: { code: 'SAGA_ERR_STORE_UNAVAILABLE' } }, 'the open fails as a store error worth retrying');
  await other.query('SELECT pg_advisory_unlock(7305472013)');
  const store = await openPostgresStore(url);
  t.teardown(() => store.close());
  t.equal(store.kind, 'postgres', 'a later open migrates');
});

t.test('pruneInbox deletes old ids in statements of at most a batch each, all of them, and keeps the newer ones', async (t) => {
  const url = await server.createDatabase();
  const store = await openPostgresStore(url);
  t.teardown(() => store.close());
  const admin = await adminOf(t, url);
  const old = INBOX_PRUNE_BATCH * 2 + INBOX_PRUNE_BATCH / 2;
  await admin.query("INSERT INTO inbox (message_id, at) SELECT 'old-' || g, 1000 + g % 500 FROM generate_series(1, $1) g", [old]);
  await admin.query("INSERT INTO inbox (message_id, at) SELECT 'new-' || g, 5000 + g FROM generate_series(1, 100) g");
  // Each delete statement's row count and transaction, as a trigger sees them.
  await admin.query(`
    CREATE TABLE prune_log (n bigint NOT NULL, tx bigint NOT NULL);
    CREATE FUNCTION log_prune() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO prune_log SELECT count(*), txid_current() FROM gone; RETURN NULL; END $$;
    CREATE TRIGGER inbox_prune_log AFTER DELETE ON inbox REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION log_prune();`);
  t.equal(await store.pruneInbox(5000), old, 'every old id, counted');
  const left = await admin.query<{ n: number; min: string }>("SELECT count(*)::int AS n, min(message_id) AS min FROM inbox");
  t.same(left.rows[0], { n: 100, min: 'new-1' }, 'the newer ids stay');
  const log = (await admin.query<{ n: string; tx: string }>('SELECT n, tx FROM prune_log')).rows.map((r) => ({ n: Number(r.n), tx: r.tx }));
  t.ok(log.every((r) => r.n <= INBOX_PRUNE_BATCH), 'no statement deletes more than a batch', { log });
  t.equal(log.reduce((s, r) => s + r.n, 0), old);
  t.equal(new Set(log.map((r) => r.tx)).size, log.length, 'each statement its own transaction');
  t.equal(await store.pruneInbox(5000), 0, 'nothing left to prune');
});

t.test('a database of schema v9 upgrades to v10 once, with replicas opening at once, and a reply then follows the unsent row of its command\'s commit', async (t) => {
  const url = await server.createDatabase();
  const c = await adminOf(t, url);
  await migratePg(c, 'v9', pgMigrations.filter((m) => m.version <= 9));
  // A start committed by a build of v9: its lifecycle event and first command in one commit.
  const env = new TestEnv();
  const d0 = startDecision(env, 'i-1');
  const c0 = changeOf(0, d0);
  const event = { messageId: 'started-i-1', subject: 'sagas.events', headers: { 'Saga-Id': 'i-1', 'Nats-Msg-Id': 'started-i-1' }, data: Buffer.from('{}') };
  const { inputs, rows } = encodeBatch([prepareWrite(writeOf('start-i-1', { ...c0, outbox: [event, ...c0.outbox] }), 100)]);
  await c.query('SELECT sagad_apply($1::jsonb, $2::text[], $3::bigint, $4::jsonb)', [inputs, [], Date.now() - 1000, rows]);
  const ports = await Promise.all([1, 2, 3].map(() => openPostgresStore(url)));
  t.teardown(() => Promise.all(ports.map((p) => p.close())));
  const versions = (await c.query<{ version: number }>('SELECT version FROM sagad_schema ORDER BY version')).rows.map((r) => r.version);
  t.same(versions, Array.from({ length: pgSchemaVersion }, (_, i) => i + 1), 'each step applied once');
  const unsent = await c.query<{ seq: number; message_id: string }>('SELECT seq::int, message_id FROM outbox ORDER BY seq');
  const [r1, r2] = unsent.rows;
  if (r1 === undefined || r2 === undefined) throw new Error('two unsent rows expected');
  const d1 = decision(env, d0.state, reply(d0.state, 'reserve', 'Done', env));
  const replica = ports[1];
  if (replica === undefined) throw new Error('three stores opened');
  const o1 = await committed(replica, { ...writeOf('m-1', changeOf(d0.state.version, d1)), answers: [r2.message_id] });
  t.same(o1.outbox[0]?.follows, [r1.seq], 'the event committed with the answered command is followed');
});

t.test('a rebuild whose replayed key another instance\'s row holds fails as a duplicate key, naming the instance, and writes nothing', async (t) => {
  const url = await server.createDatabase();
  const store = await openPostgresStore(url);
  t.teardown(() => store.close());
  const env = new TestEnv();
  for (const id of ['c-3', 'd-4']) await started(store, env, id, { key: `k-${id}` });
  const admin = await adminOf(t, url);
  // c-3's row lost its key and d-4's drifted row took it.
  await admin.query("UPDATE instances SET key = 'other' WHERE id = 'c-3'");
  await admin.query("UPDATE instances SET key = 'k-c-3' WHERE id = 'd-4'");
  await t.rejects(store.rebuildInstance('c-3'), { code: 'SAGA_ERR_DUPLICATE_KEY', message: /k-c-3 of instance c-3/ });
  t.same((await admin.query('SELECT id, key FROM instances ORDER BY id')).rows, [{ id: 'c-3', key: 'other' }, { id: 'd-4', key: 'k-c-3' }], 'nothing rewritten');
  t.match(await store.rebuildInstance('d-4'), { id: 'd-4', changed: true }, 'd-4 gets its own key back');
  t.match(await store.rebuildInstance('c-3'), { id: 'c-3', changed: true }, 'and then c-3 its own');
});
