import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Kvm } from '@nats-io/kv';
import t from 'tap';
import { acquireLease, LEASE_BUCKET, type LeaseValue } from '../../engine/runtime/lease.js';
import { markPrefix } from '../../engine/runtime/prefix-mark.js';
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
  a.release();
  const started = performance.now();
  const lease = await acquireLease(link.nc, { prefix: 'stock', db: '/data/stock.db', ttlMs: 600, log: silentLog });
  t.ok(performance.now() - started >= 700, 'once nobody renewed it for its life and a sixth');
  t.equal(lease.value.db, '/data/stock.db');
  await lease.release();
});

t.test('a replica that finds its prefix taken says so and writes nothing over it', async (t) => {
  let said: (fields: Record<string, unknown>) => void = () => undefined;
  const complaint = new Promise<Record<string, unknown>>((resolve) => { said = resolve; });
  const a = await replica('returns', 'sagad/111', (level, msg, fields) => {
    if (level === 'error' && msg === 'another sagad took the NATS consumer prefix these replicas use; it takes their replies until it stops') said(fields ?? {});
  });
  t.teardown(() => a.release());
  // As if every replica had been cut off from NATS past the mark's life while a SQLite sagad started.
  const sqlite: LeaseValue = { holder: 'h/1/x', host: 'h', pid: 1, db: '/data/returns.db', prefix: 'returns', ttlMs: 600, since: Date.now(), expiresAt: Date.now() + 600 };
  await kv.put('returns', JSON.stringify(sqlite));
  t.match(await complaint, { prefix: 'returns', holder: 'h/1/x', host: 'h', pid: 1, database: '/data/returns.db', store: 'sqlite' });
  t.same((await kv.get('returns'))?.json<LeaseValue>(), sqlite, 'the SQLite lease is left as it was');
});
