import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { Kvm } from '@nats-io/kv';
import t from 'tap';
import { silentLog } from '../../engine/log.js';
import { acquireLease, dbLeaseKey, LEASE_BUCKET, type LeaseValue } from '../../engine/runtime/lease.js';
import { connectNats } from '../../engine/transport/connection.js';
import { startNatsServer } from '../helpers/nats-server.js';

/**
 * The lease of the SQLite file, beside the consumer prefix's: two sagads on one file are refused
 * whatever their prefixes, one file by two paths is one lease. One nats-server for the file.
 */
const nats = await startNatsServer();
t.teardown(() => nats.stop());
const link = await connectNats({ url: nats.url });
t.teardown(() => link.close());
const kv = await new Kvm(link.nc).create(LEASE_BUCKET, { history: 1 });

t.test('a second sagad on the same SQLite file with another consumer prefix is refused, naming the file, the holder and what to do', async (t) => {
  const db = join(t.testdir(), 'sagad.db');
  const a = await acquireLease(link.nc, { prefix: 'p-one', db, ttlMs: 600, log: silentLog });
  t.teardown(() => a.release());
  const since = new Date(a.value.since).toISOString().replace(/\./g, '\\.');
  const file = db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await t.rejects(acquireLease(link.nc, { prefix: 'p-two', db, ttlMs: 600, log: silentLog }), {
    code: 'SAGA_ERR_LEASE_HELD',
    message: new RegExp(`^another sagad \\(host ${hostname()}, pid ${process.pid}, NATS consumer prefix p-one\\) holds the lease of the SQLite file ${file} since ${since} and renews it: `
      + 'two sagad processes on one SQLite file would both run its sagas\\. Stop that sagad first \\(SIGTERM: it drains and releases the lease at once\\), '
      + 'or give this one a file of its own \\(SAGA_DB\\)\\.$'),
  });
  t.not((await kv.get('p-two'))?.operation, 'PUT', 'the refused one gave back the lease of its prefix');
  t.ok(a.isHeld(), 'the holder keeps both');
  await a.release();
  const b = await acquireLease(link.nc, { prefix: 'p-two', db, ttlMs: 600, log: silentLog });
  t.teardown(() => b.release());
  t.equal((await kv.get(dbLeaseKey(db)))?.json<LeaseValue>().prefix, 'p-two', 'released, the file is free at once');
});

t.test('one file by two paths (a symlinked directory, a relative path; created or not yet) is one lease', async (t) => {
  const dir = t.testdir();
  mkdirSync(join(dir, 'real'));
  symlinkSync(join(dir, 'real'), join(dir, 'link'));
  const key = dbLeaseKey(join(dir, 'real', 'sagad.db'));
  t.match(key, /^db\.[0-9a-f]{40}$/, 'a valid KV key that is no consumer prefix');
  t.equal(dbLeaseKey(join(dir, 'link', 'sagad.db')), key, 'through the symlink, before the file exists');
  t.equal(dbLeaseKey(relative(process.cwd(), join(dir, 'link', 'sagad.db'))), key, 'relative');
  writeFileSync(join(dir, 'real', 'sagad.db'), '');
  t.equal(dbLeaseKey(join(dir, 'link', 'sagad.db')), key, 'once the file exists');
  t.not(dbLeaseKey(join(dir, 'real', 'sagad.db'), 'another-host'), key, 'one path on another host is another file');
  t.not(dbLeaseKey(join(dir, 'real', 'other.db')), key, 'another file');
  const a = await acquireLease(link.nc, { prefix: 'p-real', db: join(dir, 'real', 'sagad.db'), ttlMs: 600, log: silentLog });
  t.teardown(() => a.release());
  await t.rejects(acquireLease(link.nc, { prefix: 'p-link', db: join(dir, 'link', 'sagad.db'), ttlMs: 600, log: silentLog }), {
    code: 'SAGA_ERR_LEASE_HELD', message: /NATS consumer prefix p-real\) holds the lease of the SQLite file/,
  });
});

t.test('the lease of a file left by a killed sagad is taken over once nobody renewed it, like the prefix\'s', async (t) => {
  const db = join(t.testdir(), 'sagad.db');
  const stale: LeaseValue = { holder: 'dead', host: hostname(), pid: 1, db, prefix: 'p-dead', ttlMs: 300, since: 1, expiresAt: Date.now() + 60_000 };
  await kv.put(dbLeaseKey(db), JSON.stringify(stale));
  const lines: string[] = [];
  const lease = await acquireLease(link.nc, { prefix: 'p-restarted', db, ttlMs: 300, log: (_l, msg) => lines.push(msg) });
  t.teardown(() => lease.release());
  t.ok(lines.includes(`the lease of the SQLite file ${db} is held by another process; taking it over if nobody renews it for 350 ms`), 'said why it waited');
  t.equal((await kv.get(dbLeaseKey(db)))?.json<LeaseValue>().holder, lease.value.holder);
});
