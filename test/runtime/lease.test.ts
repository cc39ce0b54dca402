import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Kvm } from '@nats-io/kv';
import t from 'tap';
import { acquireLease, LEASE_BUCKET, type LeaseValue } from '../../engine/runtime/lease.js';
import { connectNats } from '../../engine/transport/connection.js';
import { silentLog } from '../../engine/log.js';
import { startNatsServer } from '../helpers/nats-server.js';

/** The SQLite lease against a real nats-server: one holder per prefix, takeover of a lease nobody renews, loss. */
t.test('one holder per prefix; another database is refused once the holder is seen renewing, with what to do', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const link = await connectNats({ url: nats.url });
  t.teardown(() => link.close());
  const a = await acquireLease(link.nc, { prefix: 'sagad', db: '/data/a.db', ttlMs: 600, log: silentLog });
  await t.rejects(acquireLease(link.nc, { prefix: 'sagad', db: '/data/b.db', ttlMs: 600, log: silentLog }), {
    code: 'SAGA_ERR_LEASE_HELD',
    message: new RegExp(`host ${hostname()}, pid ${process.pid}, database /data/a\\.db.*SAGA_DB=postgres.*another SAGA_NATS_PREFIX`),
  });
  const other = await acquireLease(link.nc, { prefix: 'billing', db: '/data/c.db', ttlMs: 600, log: silentLog });
  t.equal(other.value.db, '/data/c.db', 'another prefix has a lease of its own');
  await a.release();
  const b = await acquireLease(link.nc, { prefix: 'sagad', db: '/data/b.db', ttlMs: 600, log: silentLog });
  t.equal(b.value.db, '/data/b.db', 'a released lease is free at once');
  await b.release();
  await other.release();
});

t.test('a lease left by a killed holder is taken over once nobody renewed it for its life and a sixth, whatever expiry it wrote', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const link = await connectNats({ url: nats.url });
  t.teardown(() => link.close());
  // What a process killed with -9 leaves: a lease nobody renews. Its expiry, by its clock, is an hour away.
  const kv = await new Kvm(link.nc).create(LEASE_BUCKET, { history: 1 });
  const stale: LeaseValue = {
    holder: 'dead', host: hostname(), pid: 1, db: '/data/a.db', prefix: 'sagad', ttlMs: 600, since: Date.now() - 10_000, expiresAt: Date.now() + 3_600_000,
  };
  await kv.create('sagad', JSON.stringify(stale));
  const logs: string[] = [];
  const started = performance.now();
  const lease = await acquireLease(link.nc, { prefix: 'sagad', db: '/data/a.db', ttlMs: 900, log: (_l, msg) => logs.push(msg) });
  const waited = performance.now() - started;
  t.ok(waited >= 700, `waited its life (600 ms) and a sixth: ${Math.round(waited)} ms`);
  t.ok(logs.some((m) => /held by another process; taking it over if nobody renews it for 700 ms/.test(m)), 'it said why it waited');
  t.ok(logs.some((m) => /took over a lease nobody renewed/.test(m)));
  const entry = await kv.get('sagad');
  t.equal(entry?.json<LeaseValue>().pid, process.pid, 'the new holder is recorded');
  await lease.release();
});
t.test('a holder renews its lease; when another process takes it anyway, the holder learns it lost it', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const link = await connectNats({ url: nats.url });
  t.teardown(() => link.close());
  const lease = await acquireLease(link.nc, { prefix: 'sagad', db: '/data/a.db', ttlMs: 600, log: silentLog });
  const kv = await new Kvm(link.nc).open(LEASE_BUCKET);
  const first = await kv.get('sagad');
  // Renewed: the revision moves on while the holder lives.
  let now = first?.revision ?? 0;
  for (let i = 0; i < 100 && now === first?.revision; i++) {
    await new Promise((r) => setTimeout(r, 50));
    now = (await kv.get('sagad'))?.revision ?? 0;
  }
  t.ok(now > (first?.revision ?? 0), 'the lease was renewed');
  await kv.put('sagad', JSON.stringify({ holder: 'thief', host: 'elsewhere', pid: 2, db: '/x', since: Date.now(), expiresAt: Date.now() + 60_000 }));
  t.match(await lease.lost, /another process took the lease of NATS consumer prefix sagad/);
  await lease.release();
  t.equal((await kv.get('sagad'))?.json<LeaseValue>().holder, 'thief', 'releasing a lost lease leaves the new holder alone');
});
