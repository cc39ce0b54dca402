import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { until } from '../helpers/until.js';
import t, { type Test } from 'tap';
import type { LogLevel } from '../../engine/log.js';
import { acquireLease, dbLeaseKey, LEASE_BUCKET, type LeaseValue } from '../../engine/runtime/lease.js';
import { connectNats } from '../../engine/transport/connection.js';
import { silentLog } from '../../engine/log.js';
import { startNatsServer } from '../helpers/nats-server.js';

/**
 * The SQLite lease's details against one real nats-server for the file (each test on a prefix
 * and a database of its own): what the lease records, the lines it logs, the refusal's wording,
 * a live holder watched and refused, errors that are not a lost race, and renewals that fail or
 * find their own write.
 */
const nats = await startNatsServer();
t.teardown(() => nats.stop());
const link = await connectNats({ url: nats.url });
t.teardown(() => link.close());
const kv = await new Kvm(link.nc).create(LEASE_BUCKET, { history: 1 });

interface Line { level: LogLevel; msg: string; fields: Record<string, unknown> | undefined }
const recorder = () => {
  const lines: Line[] = [];
  return { lines, log: (level: LogLevel, msg: string, fields?: Record<string, unknown>) => { lines.push({ level, msg, fields }); } };
};

/** The keys of a prefix and a database as a released lease leaves them (their delete markers): taken at once, without the wait of a key never seen. */
async function released(prefix: string, db: string): Promise<void> {
  await kv.delete(prefix);
  await kv.delete(dbLeaseKey(db));
}

/**
 * Makes the bucket refuse every lease write (a failure other than a lost race: no message over
 * 16 bytes) until the function returned is called, or the test ends.
 */
async function refuseWrites(t: Test): Promise<() => Promise<void>> {
  const info = await link.jsm.streams.info(`KV_${LEASE_BUCKET}`);
  await link.jsm.streams.update(`KV_${LEASE_BUCKET}`, { ...info.config, max_msg_size: 16 });
  const accept = async () => { await link.jsm.streams.update(`KV_${LEASE_BUCKET}`, { ...info.config, max_msg_size: -1 }); };
  t.teardown(accept);
  return accept;
}

t.test('the lease records its holder, the absolute database, the prefix and a default life of 6 s, and says it holds it', async (t) => {
  const r = recorder();
  await released('p-record', 'data/rel.db');
  const before = Date.now();
  const lease = await acquireLease(link.nc, { prefix: 'p-record', db: 'data/rel.db', log: r.log });
  t.teardown(() => lease.release());
  const v = lease.value;
  t.equal(v.db, resolve('data/rel.db'), 'a relative path is made absolute');
  t.equal(v.prefix, 'p-record');
  t.equal(v.ttlMs, 6_000, 'its life, for whoever watches it');
  t.equal(v.host, hostname());
  t.equal(v.pid, process.pid);
  t.match(v.holder, new RegExp(`^${hostname()}/${process.pid}/[0-9a-f]{8}$`));
  t.ok(v.since >= before && v.since <= Date.now(), 'since: when it was taken');
  t.ok(v.expiresAt - v.since >= 6_000 && v.expiresAt - v.since < 7_000, `expires 6 s after it was taken (${v.expiresAt - v.since} ms)`);
  t.same((await kv.get('p-record'))?.json<LeaseValue>(), v, 'what the bucket holds for the prefix');
  t.same((await kv.get(dbLeaseKey('data/rel.db')))?.json<LeaseValue>().holder, v.holder, 'and for the database file');
  t.same(r.lines, [{
    level: 'info', msg: 'holding the SQLite lease of the NATS consumer prefix and of the database file', fields: { prefix: 'p-record', db: resolve('data/rel.db'), ttlMs: 6_000 },
  }]);
});

t.test('the refusal names the holder, since when, and what to do', async (t) => {
  const a = await acquireLease(link.nc, { prefix: 'p-refuse', db: '/data/refuse-a.db', ttlMs: 600, log: silentLog });
  t.teardown(() => a.release());
  const since = new Date(a.value.since).toISOString();
  await t.rejects(acquireLease(link.nc, { prefix: 'p-refuse', db: '/data/refuse-b.db', log: silentLog }), {
    code: 'SAGA_ERR_LEASE_HELD',
    message: new RegExp(`^another sagad \\(host ${hostname()}, pid ${process.pid}, database /data/refuse-a\\.db\\) holds the lease since ${since.replace(/\./g, '\\.')} `
      + 'and renews it, for the NATS consumer prefix p-refuse: two sagad processes with SQLite stores on one NATS would take each other\'s replies\\. '
      + 'For several replicas, use one PostgreSQL database for all \\(SAGA_DB=postgres://\\.\\.\\.\\); for an unrelated second sagad, give it another SAGA_NATS_PREFIX\\.$'),
  });
  t.equal((await kv.get(dbLeaseKey('/data/refuse-b.db')))?.operation, 'DEL', 'the refused one gave back the lease of its file');
});

t.test('a live holder is watched until it renews its lease, then refused; its own clock is never read', async (t) => {
  const a = await acquireLease(link.nc, { prefix: 'p-live', db: '/data/live-a.db', ttlMs: 900, log: silentLog });
  t.teardown(() => a.release());
  const r = recorder();
  // The holder renews every 300 ms: seen before this one's wait (its life, 900 ms, and a sixth) ends.
  const started = performance.now();
  await t.rejects(acquireLease(link.nc, { prefix: 'p-live', db: '/data/live-b.db', ttlMs: 200, log: r.log }), { code: 'SAGA_ERR_LEASE_HELD' });
  t.ok(performance.now() - started < 1_050, 'refused before it would have taken the lease over');
  t.same(r.lines.find((l) => l.fields?.prefix === 'p-live'), {
    level: 'info', msg: 'the lease of the NATS consumer prefix p-live is held by another process; taking it over if nobody renews it for 1050 ms',
    fields: { prefix: 'p-live', holder: a.value.holder },
  }, 'the wait is the holder\'s life as it wrote it, not this one\'s');
  t.equal((await kv.get('p-live'))?.json<LeaseValue>().holder, a.value.holder, 'the holder keeps it');
  t.ok(a.isHeld());
});

t.test('a lease nobody renews is taken over, and the log names the previous holder', async (t) => {
  const stale: LeaseValue = { holder: 'gone/1/x', host: 'elsewhere', pid: 1, db: '/other.db', prefix: 'p-expired', ttlMs: 300, since: 1, expiresAt: Date.now() + 60_000 };
  await kv.put('p-expired', JSON.stringify(stale));
  const r = recorder();
  const lease = await acquireLease(link.nc, { prefix: 'p-expired', db: '/data/expired.db', ttlMs: 300, log: r.log });
  t.teardown(() => lease.release());
  const line = r.lines.find((l) => l.msg === 'took over a lease nobody renewed');
  t.match(line, { level: 'info', fields: { prefix: 'p-expired', previous: 'gone/1/x', unrenewedMs: Number } });
  t.ok(Number(line?.fields?.unrenewedMs) >= 350, `unrenewed for its life (300 ms) and a sixth, by this process's clock: ${String(line?.fields?.unrenewedMs)} ms`);
  t.equal((await kv.get('p-expired'))?.json<LeaseValue>().holder, lease.value.holder);
});

t.test('a lease of an older sagad (no life written) is watched for 6 s and a sixth', async (t) => {
  const old = { holder: 'old/1/x', host: 'elsewhere', pid: 1, db: '/other.db', since: 1, expiresAt: 1 };
  await kv.put('p-old', JSON.stringify(old));
  const r = recorder();
  const taking = acquireLease(link.nc, { prefix: 'p-old', db: '/data/old.db', ttlMs: 300, log: r.log });
  await until(() => r.lines.some((l) => l.fields?.prefix === 'p-old'), 'the line that says it watches');
  t.match(r.lines.find((l) => l.fields?.prefix === 'p-old')?.msg, /taking it over if nobody renews it for 7000 ms$/);
  // Renewed, as the older sagad would: refused.
  const entry = await kv.get('p-old');
  await kv.update('p-old', JSON.stringify(old), entry?.revision ?? 0);
  await t.rejects(taking, { code: 'SAGA_ERR_LEASE_HELD' });
});

t.test('an error that is not a lost race is thrown as it is', async (t) => {
  const err = await acquireLease(link.nc, { prefix: 'not a key', db: '/data/a.db', log: silentLog }).then(() => null, (e: unknown) => e);
  t.match(err, { message: /invalid key/ }, 'the bucket\'s own error');
  t.notMatch(err, { code: 'SAGA_ERR_LEASE_HELD' });
});

t.test('a renewal that finds its own write (its answer was lost) keeps the lease', async (t) => {
  const lease = await acquireLease(link.nc, { prefix: 'p-own', db: '/data/own.db', ttlMs: 300, log: silentLog });
  t.teardown(() => lease.release());
  // The holder's own value written past it, as a renewal whose answer timed out leaves it.
  const own = await kv.put('p-own', JSON.stringify({ ...lease.value, expiresAt: Date.now() + 300 }));
  await until(async () => ((await kv.get('p-own'))?.revision ?? 0) > own + 1, 'two renewals after it', { everyMs: 20 });
  t.equal((await kv.get('p-own'))?.json<LeaseValue>().holder, lease.value.holder, 'still the holder');
  let lost = false;
  void lease.lost.then(() => { lost = true; });
  await new Promise((r) => setImmediate(r));
  t.notOk(lost, 'not lost');
});

t.test('a renewal that fails otherwise is logged and tried again', async (t) => {
  const r = recorder();
  // A life of 3 s: renewed every second, in doubt half a second before it would expire.
  await released('p-fail', '/data/fail.db');
  const lease = await acquireLease(link.nc, { prefix: 'p-fail', db: '/data/fail.db', ttlMs: 3_000, log: r.log });
  t.teardown(() => lease.release());
  const accept = await refuseWrites(t);
  await until(() => r.lines.some((l) => l.level === 'warn' && l.fields?.prefix === 'p-fail'), 'a failed renewal', { everyMs: 20 });
  const warn = r.lines.find((l) => l.level === 'warn' && l.fields?.prefix === 'p-fail');
  t.match(warn, { msg: 'could not renew the lease; retrying', fields: { prefix: 'p-fail', error: /.+/ } });
  await accept();
  const rev = (await kv.get('p-fail'))?.revision ?? 0;
  await until(async () => ((await kv.get('p-fail'))?.revision ?? 0) > rev, 'a renewal once the stream takes it again', { everyMs: 20 });
  t.equal((await kv.get('p-fail'))?.json<LeaseValue>().holder, lease.value.holder, 'renewed by its holder');
  let lost = false;
  void lease.lost.then(() => { lost = true; });
  await new Promise((r) => setImmediate(r));
  t.notOk(lost, 'one failed renewal does not lose the lease');
  t.ok(lease.isHeld(), 'it is held, not in doubt');
});

t.test('renewals that keep failing put the lease in doubt before it would expire; a renewal that succeeds ends the doubt', async (t) => {
  const r = recorder();
  const lease = await acquireLease(link.nc, { prefix: 'p-fence', db: '/data/fence.db', ttlMs: 600, log: r.log });
  t.teardown(() => lease.release());
  t.ok(lease.isHeld());
  t.equal(await lease.held(), true, 'held: at once');
  const accept = await refuseWrites(t);
  await until(() => !lease.isHeld(), 'the lease in doubt', { everyMs: 20 });
  const at = Date.now();
  const written = (await kv.get('p-fence'))?.json<LeaseValue>();
  t.equal(written?.holder, lease.value.holder, 'nobody else has it');
  t.ok(at < (written?.expiresAt ?? 0), `in doubt at ${at}, before the expiry last written (${written?.expiresAt}), when another process could take it`);
  t.ok(r.lines.some((l) => l.msg.startsWith('could not renew the lease before it expires; consuming waits')), 'said so');
  let settled: boolean | null = null;
  const waiting = lease.held().then((h) => { settled = h; });
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(settled, null, 'held() waits while in doubt');
  await accept();
  await waiting;
  t.equal(settled, true, 'and resolves true once a renewal succeeds: nobody took it meanwhile');
  t.ok(lease.isHeld());
  t.ok(r.lines.some((l) => l.msg === 'the lease is renewed again; consuming goes on'));
});

t.test('a lease in doubt that another process took meanwhile is lost', async (t) => {
  const lease = await acquireLease(link.nc, { prefix: 'p-taken', db: '/data/taken.db', ttlMs: 600, log: silentLog });
  t.teardown(() => lease.release());
  const accept = await refuseWrites(t);
  await until(() => !lease.isHeld(), 'the lease in doubt', { everyMs: 20 });
  const waiting = lease.held();
  await accept();
  // Another process took it after it expired (its update of the last revision, as acquireLease does).
  const entry = await kv.get('p-taken');
  await kv.update('p-taken', JSON.stringify({ ...entry?.json<LeaseValue>(), holder: 'other', expiresAt: Date.now() + 60_000 }), entry?.revision ?? 0);
  t.equal(await waiting, false, 'held() resolves false');
  t.match(await lease.lost, /another process took the lease of NATS consumer prefix p-taken/);
});

t.test('NATS lost its JetStream store and another sagad made the bucket again: every holder takes its own lease again', async (t) => {
  const a = await acquireLease(link.nc, { prefix: 'p-gone-a', db: '/data/gone-a.db', ttlMs: 600, log: silentLog });
  const b = await acquireLease(link.nc, { prefix: 'p-gone-b', db: '/data/gone-b.db', ttlMs: 600, log: silentLog });
  t.teardown(() => Promise.all([a.release(), b.release()]));
  let lost = '';
  void a.lost.then((why) => { lost = `a: ${why}`; });
  void b.lost.then((why) => { lost = `b: ${why}`; });
  await link.jsm.streams.delete(`KV_${LEASE_BUCKET}`);
  // Another sagad (a third prefix) made the bucket again first: both renewals find their key gone.
  await new Kvm(link.nc).create(LEASE_BUCKET, { history: 1 });
  await until(async () => (await kv.get('p-gone-a').catch(() => null))?.json<LeaseValue>().holder === a.value.holder
    && (await kv.get('p-gone-b').catch(() => null))?.json<LeaseValue>().holder === b.value.holder, 'both leases written again', { everyMs: 20 });
  t.equal(lost, '', 'neither lost its lease');
  t.ok(a.isHeld() && b.isHeld(), 'both held');
});
