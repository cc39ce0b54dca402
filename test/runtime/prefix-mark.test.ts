import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Kvm } from '@nats-io/kv';
import t from 'tap';
import { acquireLease, LEASE_BUCKET, type LeaseValue } from '../../engine/runtime/lease.js';
import { markPrefix, markPrefixOrWarn } from '../../engine/runtime/prefix-mark.js';
import { connectNats } from '../../engine/transport/connection.js';
import { silentLog, type LogFn } from '../../engine/log.js';
import { startNatsServer } from '../helpers/nats-server.js';

/**
 * The mark PostgreSQL replicas put on their NATS consumer prefix (engine/runtime/prefix-mark.ts),
 * in the key a SQLite sagad takes as the lease of that prefix, against a real nats-server: the
 * replicas of one database share it; a SQLite sagad, or a replica of another database, is refused
 * while it is renewed, and takes it once nobody renews it.
 */
const nats = await startNatsServer();
t.teardown(() => nats.stop());
const link = await connectNats({ url: nats.url });
t.teardown(() => link.close());
const kv = await new Kvm(link.nc).create(LEASE_BUCKET, { history: 1 });

const replica = (prefix: string, database: string, log: LogFn = silentLog) =>
  markPrefix(link.nc, { prefix, where: `sagad@pg:5432/${database.split('/')[0] ?? ''}`, database, ttlMs: 600, log });

t.test('replicas of one database share the mark; a SQLite sagad beside them is refused with what to do', async (t) => {
  const a = await replica('orders', 'sagad/111');
  t.teardown(() => a.release());
  const b = await replica('orders', 'sagad/111');
  t.teardown(() => b.release());
  const held = (await kv.get('orders'))?.json<LeaseValue>();
  t.match(held, { store: 'postgres', database: 'sagad/111', prefix: 'orders', host: hostname(), pid: process.pid });
  await t.rejects(acquireLease(link.nc, { prefix: 'orders', db: '/data/orders.db', ttlMs: 600, log: silentLog }), {
    code: 'SAGA_ERR_LEASE_HELD',
    message: 'sagad replicas on PostgreSQL (database sagad@pg:5432/sagad; renewed last by host ' + hostname() + ', pid ' + String(process.pid) + ') use the NATS consumer prefix orders: ' +
      'a sagad with a SQLite store beside them would take their replies. ' +
      'To run as one more of those replicas, give this one their SAGA_DB (postgres://...); for an unrelated sagad, give it another SAGA_NATS_PREFIX.',
  });
  const elsewhere = await acquireLease(link.nc, { prefix: 'billing', db: '/data/billing.db', ttlMs: 600, log: silentLog });
  t.equal(elsewhere.value.prefix, 'billing', 'another prefix is free');
  await elsewhere.release();
});

t.test('a replica of another database is refused while the mark is renewed', async (t) => {
  const a = await replica('shipping', 'sagad/111');
  t.teardown(() => a.release());
  await t.rejects(replica('shipping', 'sagad/222'), {
    code: 'SAGA_ERR_LEASE_HELD',
    message: /^sagad replicas of another PostgreSQL database \(sagad@pg:5432\/sagad; renewed last by host .*\) use the NATS consumer prefix shipping: .*give this one their SAGA_DB; for an unrelated set of replicas, give it another SAGA_NATS_PREFIX\.$/,
  });
});

t.test('a replica is refused by a live SQLite lease of its prefix, and takes a killed one\'s once nobody renews it', async (t) => {
  const lease = await acquireLease(link.nc, { prefix: 'payments', db: '/data/payments.db', ttlMs: 600, log: silentLog });
  await t.rejects(replica('payments', 'sagad/111'), {
    code: 'SAGA_ERR_LEASE_HELD',
    message: /^a sagad with a SQLite store \(host .*, database \/data\/payments\.db\) holds the lease of the NATS consumer prefix payments since .* and renews it: replicas on PostgreSQL beside it would take each other's replies\./,
  });
  // What kill -9 leaves: the lease as it was, renewed by nobody.
  const left = await kv.get('payments');
  await lease.release();
  await kv.put('payments', left?.string() ?? '');
  const started = performance.now();
  const mark = await replica('payments', 'sagad/111');
  t.teardown(() => mark.release());
  t.ok(performance.now() - started >= 700, 'taken after the lease\'s life and a sixth');
  t.match((await kv.get('payments'))?.json<LeaseValue>(), { store: 'postgres', database: 'sagad/111' });
});

t.test('replicas that all stopped leave the mark to expire: then a SQLite sagad takes the prefix', async (t) => {
  const a = await replica('stock', 'sagad/111');
  await a.release();
  const started = performance.now();
  const lease = await acquireLease(link.nc, { prefix: 'stock', db: '/data/stock.db', ttlMs: 600, log: silentLog });
  t.ok(performance.now() - started >= 700, 'once nobody renewed it for its life and a sixth');
  t.equal(lease.value.db, '/data/stock.db');
  await lease.release();
});

t.test('a replica that finds its prefix taken says so and writes nothing over it while it is renewed, then takes it back', async (t) => {
  const heard = new Map<string, (fields: Record<string, unknown>) => void>();
  const heardOf = (msg: string) => new Promise<Record<string, unknown>>((resolve) => heard.set(msg, resolve));
  const complaint = heardOf('another sagad took the NATS consumer prefix these replicas use; it takes their replies until it stops');
  const tookBack = heardOf('took the NATS consumer prefix back: nobody renewed the lease another sagad had on it');
  const a = await replica('returns', 'sagad/111', (_level, msg, fields) => heard.get(msg)?.(fields ?? {}));
  t.teardown(() => a.release());
  // As if every replica had been cut off from NATS past the mark's life while a SQLite sagad
  // started: its lease, renewed (written again) every 200 ms until it is killed.
  const sqlite: LeaseValue = { holder: 'h/1/x', host: 'h', pid: 1, db: '/data/returns.db', prefix: 'returns', ttlMs: 600, since: Date.now(), expiresAt: Date.now() + 600 };
  await kv.put('returns', JSON.stringify(sqlite));
  const renewing = setInterval(() => { void kv.put('returns', JSON.stringify(sqlite)); }, 200);
  t.match(await complaint, { prefix: 'returns', holder: 'h/1/x', host: 'h', pid: 1, database: '/data/returns.db', store: 'sqlite' });
  t.same((await kv.get('returns'))?.json<LeaseValue>(), sqlite, 'the SQLite lease is left as it was while it is renewed');
  clearInterval(renewing);
  t.match(await tookBack, { prefix: 'returns', previous: 'h/1/x' });
  t.match((await kv.get('returns'))?.json<LeaseValue>(), { store: 'postgres', database: 'sagad/111' }, 'the mark is back');
  await t.rejects(acquireLease(link.nc, { prefix: 'returns', db: '/data/returns2.db', ttlMs: 600, log: silentLog }), { code: 'SAGA_ERR_LEASE_HELD' },
    'and a SQLite sagad is refused again');
});

t.test('a replica whose NATS user may not use the KV bucket runs without the mark, saying so; a live holder still refuses it', async (t) => {
  const locked = await startNatsServer({
    config: `authorization { users = [
      { user: admin, password: admin-pw },
      { user: replica, password: replica-pw, permissions: { publish: { allow: ["$JS.API.INFO", "_INBOX.>"] }, subscribe: { allow: ["_INBOX.>"] } } }
    ] }`,
    check: { user: 'admin', pass: 'admin-pw' },
  });
  t.teardown(() => locked.stop());
  const asReplica = await connectNats({ url: locked.url, security: { user: 'replica', password: 'replica-pw' } });
  t.teardown(() => asReplica.close());
  const warned: { msg: string; fields?: Record<string, unknown> }[] = [];
  const mark = await markPrefixOrWarn(asReplica.nc, {
    prefix: 'orders', where: 'sagad@pg:5432/sagad', database: 'sagad/111', ttlMs: 600, log: (level, msg, fields) => { if (level === 'warn') warned.push({ msg, fields }); },
  });
  t.equal(mark, null, 'no mark');
  t.match(warned, [{ msg: 'could not mark the NATS consumer prefix orders in the KV bucket sagad_leases: a sagad with a SQLite store on it would not be refused; give this NATS user the bucket\'s subjects (docs/nats-security.md)', fields: { prefix: 'orders', error: String } }]);

  const asAdmin = await connectNats({ url: locked.url, security: { user: 'admin', password: 'admin-pw' } });
  t.teardown(() => asAdmin.close());
  const lease = await acquireLease(asAdmin.nc, { prefix: 'orders', db: '/data/orders.db', ttlMs: 600, log: silentLog });
  t.teardown(() => lease.release());
  await t.rejects(markPrefixOrWarn(asAdmin.nc, { prefix: 'orders', where: 'sagad@pg:5432/sagad', database: 'sagad/111', ttlMs: 600, log: silentLog }),
    { code: 'SAGA_ERR_LEASE_HELD' }, 'refused by a live SQLite lease as before');
});

t.test('a stop asked for while a killed SQLite sagad\'s lease is waited out ends the wait, and is not taken for a failure to mark', async (t) => {
  const dead: LeaseValue = { holder: 'gone/1/x', host: 'gone', pid: 1, db: '/data/gone.db', prefix: 'gone', ttlMs: 60_000, since: Date.now(), expiresAt: Date.now() + 60_000 };
  await kv.put('gone', JSON.stringify(dead));
  const stop = new AbortController();
  const warned: string[] = [];
  const waiting = markPrefixOrWarn(link.nc, {
    prefix: 'gone', where: 'sagad@pg:5432/sagad', database: 'sagad/111', ttlMs: 600, signal: stop.signal,
    log: (level, msg) => {
      if (level === 'warn') warned.push(msg);
      if (msg.includes('is held by another process; taking it over if nobody renews it')) stop.abort();
    },
  });
  await t.rejects(waiting, { name: 'AbortError' });
  t.same(warned, [], 'no warning that the prefix could not be marked');
  t.same((await kv.get('gone'))?.json<LeaseValue>(), dead, 'the lease is left as it was');
});
