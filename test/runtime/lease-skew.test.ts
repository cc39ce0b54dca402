import { performance } from 'node:perf_hooks';
import { Kvm } from '@nats-io/kv';
import t from 'tap';
import { silentLog } from '../../engine/log.js';
import { acquireLease, LEASE_BUCKET, type LeaseValue } from '../../engine/runtime/lease.js';
import { connectNats } from '../../engine/transport/connection.js';
import { startNatsServer } from '../helpers/nats-server.js';

/**
 * The lease between hosts whose clocks disagree: whether a holder lives is told by its renewals
 * (the key's revision moving), seen on the newcomer's own monotonic clock, never by the expiry
 * the holder wrote by its clock. One nats-server for the file, a prefix and files per test.
 */
const nats = await startNatsServer();
t.teardown(() => nats.stop());
const link = await connectNats({ url: nats.url });
t.teardown(() => link.close());
const kv = await new Kvm(link.nc).create(LEASE_BUCKET, { history: 1 });

const foreign = (prefix: string, expiresAt: number): LeaseValue => ({
  holder: 'elsewhere/7/skewed', host: 'elsewhere', pid: 7, db: '/data/elsewhere.db', prefix, ttlMs: 300, since: expiresAt - 300, expiresAt,
});

t.test('a live holder on a host whose clock is a minute behind (its expiry long past by this clock) is not taken over', async (t) => {
  // Another host's sagad, renewing every 100 ms what its clock says: an expiry a minute ago here.
  const value = foreign('p-behind', Date.now() - 60_000);
  let rev = await kv.create('p-behind', JSON.stringify(value));
  const renewing = setInterval(() => {
    void kv.update('p-behind', JSON.stringify(value), rev).then((r) => { rev = r; }, () => undefined);
  }, 100);
  t.teardown(() => clearInterval(renewing));
  await t.rejects(acquireLease(link.nc, { prefix: 'p-behind', db: '/data/behind.db', ttlMs: 300, log: silentLog }), {
    code: 'SAGA_ERR_LEASE_HELD', message: /^another sagad \(host elsewhere, pid 7, database \/data\/elsewhere\.db\) holds the lease since/,
  });
  t.equal((await kv.get('p-behind'))?.json<LeaseValue>().holder, value.holder, 'the holder keeps it');
});

t.test('a killed holder whose clock was an hour ahead is taken over once nobody renewed it for its life and a sixth, by this clock', async (t) => {
  await kv.create('p-ahead', JSON.stringify(foreign('p-ahead', Date.now() + 3_600_000)));
  const started = performance.now();
  const lease = await acquireLease(link.nc, { prefix: 'p-ahead', db: '/data/ahead.db', ttlMs: 300, log: silentLog });
  t.teardown(() => lease.release());
  const waited = performance.now() - started;
  t.ok(waited >= 350 && waited < 3_000, `taken over after ${Math.round(waited)} ms, not after the hour its expiry said`);
  t.equal((await kv.get('p-ahead'))?.json<LeaseValue>().holder, lease.value.holder);
});

t.test('two sagads with clocks two minutes apart (injected): the one ahead is refused while the one behind renews, and takes over once it stops', async (t) => {
  const behind = () => Date.now() - 60_000;
  const ahead = () => Date.now() + 60_000;
  // The holder on a connection of its own, so that it can stop renewing as a killed process does.
  const own = await connectNats({ url: nats.url });
  t.teardown(() => own.close());
  const holder = await acquireLease(own.nc, { prefix: 'p-skew', db: '/data/skew-a.db', ttlMs: 300, now: behind, log: silentLog });
  t.teardown(() => holder.release());
  t.ok(holder.value.expiresAt < Date.now() - 50_000, 'the holder writes its own clock');
  await t.rejects(acquireLease(link.nc, { prefix: 'p-skew', db: '/data/skew-b.db', ttlMs: 300, now: ahead, log: silentLog }), { code: 'SAGA_ERR_LEASE_HELD' });
  t.ok(holder.isHeld(), 'the holder keeps it');
  let lost = false;
  void holder.lost.then(() => { lost = true; });
  // Killed, as far as NATS can tell: its connection gone, its lease left behind.
  await own.close();
  const started = performance.now();
  const next = await acquireLease(link.nc, { prefix: 'p-skew', db: '/data/skew-b.db', ttlMs: 300, now: ahead, log: silentLog });
  t.teardown(() => next.release());
  t.ok(performance.now() - started >= 350, 'taken over once nobody renewed it for its life and a sixth');
  t.notOk(holder.isHeld(), 'the old holder, unable to renew, holds it in doubt by then');
  t.notOk(lost, 'not lost: it cannot read who holds it now');
  t.ok(next.value.since > Date.now() + 50_000, 'the new holder writes its own clock');
});
