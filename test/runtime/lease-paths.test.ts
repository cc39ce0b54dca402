import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { until } from '../helpers/until.js';
import t, { type Test } from 'tap';
import type { LogLevel } from '../../engine/log.js';
import { acquireLease, LEASE_BUCKET, type LeaseValue } from '../../engine/runtime/lease.js';
import { connectNats } from '../../engine/transport/connection.js';
import { silentLog } from '../../engine/log.js';
import { startNatsServer } from '../helpers/nats-server.js';

/**
 * The SQLite lease's details against one real nats-server for the file (each test on a prefix
 * of its own): what the lease records, the lines it logs, the refusal's wording, a live holder
 * of the same database outwaited, errors that are not a lost race, and renewals that fail or
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

t.test('the lease records its holder, the absolute database and a default life of 6 s, and says it holds it', async (t) => {
  const r = recorder();
  const before = Date.now();
  const lease = await acquireLease(link.nc, { prefix: 'p-record', db: 'data/rel.db', log: r.log });
  t.teardown(() => lease.release());
  const v = lease.value;
  t.equal(v.db, resolve('data/rel.db'), 'a relative path is made absolute');
  t.equal(v.host, hostname());
  t.equal(v.pid, process.pid);
  t.match(v.holder, new RegExp(`^${hostname()}/${process.pid}/[0-9a-z]{1,8}$`));
  t.ok(v.since >= before && v.since <= Date.now(), 'since: when it was taken');
  t.ok(v.expiresAt - v.since >= 6_000 && v.expiresAt - v.since < 7_000, `expires 6 s after it was taken (${v.expiresAt - v.since} ms)`);
  t.same((await kv.get('p-record'))?.json<LeaseValue>(), v, 'what the bucket holds');
  t.same(r.lines, [{ level: 'info', msg: 'holding the SQLite lease of the NATS consumer prefix', fields: { prefix: 'p-record', ttlMs: 6_000 } }]);
});

t.test('the refusal names the holder, since when, how long it is renewed, and what to do', async (t) => {
  const a = await acquireLease(link.nc, { prefix: 'p-refuse', db: '/data/a.db', log: silentLog });
  t.teardown(() => a.release());
  const since = new Date(a.value.since).toISOString();
  await t.rejects(acquireLease(link.nc, { prefix: 'p-refuse', db: '/data/b.db', log: silentLog }), {
    code: 'SAGA_ERR_LEASE_HELD',
    message: new RegExp(`^another sagad \\(host ${hostname()}, pid ${process.pid}, database /data/a\\.db\\) holds the lease since ${since.replace(/\./g, '\\.')}, `
      + 'renewed until [3-6] s from now for the NATS consumer prefix p-refuse: two sagad processes with SQLite stores on one NATS would take each other\'s replies\\. '
      + 'For several replicas, use one PostgreSQL database for all \\(SAGA_DB=postgres://\\.\\.\\.\\); for an unrelated second sagad, give it another SAGA_NATS_PREFIX\\.$'),
  });
});

t.test('a live holder of the same database is waited for only so long, then refused', async (t) => {
  const a = await acquireLease(link.nc, { prefix: 'p-live', db: '/data/a.db', log: silentLog });
  t.teardown(() => a.release());
  const r = recorder();
  // The holder renews (a 6 s life): the wait ends after this one's ttl plus 2 s, with the refusal.
  await t.rejects(acquireLease(link.nc, { prefix: 'p-live', db: '/data/a.db', ttlMs: 200, log: r.log }), { code: 'SAGA_ERR_LEASE_HELD' });
  t.ok(r.lines.length >= 2, `it waited in steps (${r.lines.length})`);
  t.same(r.lines[0], {
    level: 'info', msg: 'the lease of this database is still held, probably by a process that was killed; waiting for it to expire',
    fields: { prefix: 'p-live', holder: a.value.holder },
  });
  t.equal((await kv.get('p-live'))?.json<LeaseValue>().holder, a.value.holder, 'the holder keeps it');
});

t.test('an expired lease is taken over, and the log names the previous holder', async (t) => {
  const stale: LeaseValue = { holder: 'gone/1/x', host: 'elsewhere', pid: 1, db: '/other.db', since: 1, expiresAt: Date.now() - 1_000 };
  await kv.put('p-expired', JSON.stringify(stale));
  const r = recorder();
  const lease = await acquireLease(link.nc, { prefix: 'p-expired', db: '/data/a.db', log: r.log });
  t.teardown(() => lease.release());
  t.same(r.lines[0], { level: 'info', msg: 'took over an expired lease', fields: { prefix: 'p-expired', previous: 'gone/1/x' } });
  t.equal((await kv.get('p-expired'))?.json<LeaseValue>().holder, lease.value.holder);
});

t.test('an error that is not a lost race is thrown as it is', async (t) => {
  const err = await acquireLease(link.nc, { prefix: 'not a key', db: '/data/a.db', log: silentLog }).then(() => null, (e: unknown) => e);
  t.match(err, { message: /invalid key/ }, 'the bucket\'s own error');
  t.notMatch(err, { code: 'SAGA_ERR_LEASE_HELD' });
});

t.test('a renewal that finds its own write (its answer was lost) keeps the lease', async (t) => {
  const lease = await acquireLease(link.nc, { prefix: 'p-own', db: '/data/a.db', ttlMs: 300, log: silentLog });
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
  const lease = await acquireLease(link.nc, { prefix: 'p-fail', db: '/data/a.db', ttlMs: 3_000, log: r.log });
  t.teardown(() => lease.release());
  const accept = await refuseWrites(t);
  await until(() => r.lines.some((l) => l.level === 'warn'), 'a failed renewal', { everyMs: 20 });
  const warn = r.lines.find((l) => l.level === 'warn');
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
  const lease = await acquireLease(link.nc, { prefix: 'p-fence', db: '/data/a.db', ttlMs: 600, log: r.log });
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
  const lease = await acquireLease(link.nc, { prefix: 'p-taken', db: '/data/a.db', ttlMs: 600, log: silentLog });
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
  const a = await acquireLease(link.nc, { prefix: 'p-gone-a', db: '/data/a.db', ttlMs: 600, log: silentLog });
  const b = await acquireLease(link.nc, { prefix: 'p-gone-b', db: '/data/b.db', ttlMs: 600, log: silentLog });
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
