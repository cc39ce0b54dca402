import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Kvm } from '@nats-io/kv';
import t from 'tap';
import { LEASE_BUCKET, type LeaseValue } from '../../engine/runtime/lease.js';
import { connectNats } from '../../engine/transport/connection.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { SAGAD_MAIN, SagadExitedError, startSagad } from '../helpers/sagad.js';

/**
 * The lease of the SQLite file with real processes (the built server): a second sagad on the
 * same file with another consumer prefix is refused, saying why and what to do; the first,
 * killed with -9, starts again once its leases stayed unrenewed for their life and a sixth.
 */
t.test('one SQLite file, two prefixes: the second sagad is refused, naming the file and the holder; a killed one restarts', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const db = join(t.testdir(), 'sagad.db');
  const first = await startSagad({ natsUrl: nats.url, dbFile: db, env: { SAGA_NATS_PREFIX: 'one' } });
  t.teardown(() => first.kill9());
  const refused = await startSagad({ natsUrl: nats.url, dbFile: db, env: { SAGA_NATS_PREFIX: 'two' } }).then(
    (s) => { void s.kill9(); return null; },
    (err: unknown) => err,
  );
  t.ok(refused instanceof SagadExitedError, 'the second one exited before it was ready');
  if (refused instanceof SagadExitedError) {
    t.equal(refused.code, 1, 'exit code 1');
    t.match(refused.stderr.join('\n'), new RegExp(`another sagad \\(host [^,]+, pid ${first.pid}, NATS consumer prefix one\\) holds the lease of the SQLite file ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'it names the holder and the file');
    t.match(refused.stderr.join('\n'), /Stop that sagad first .*SAGA_DB/, 'and what to do');
  }

  await first.kill9();
  const killed = performance.now();
  const again = await startSagad({ natsUrl: nats.url, dbFile: db, env: { SAGA_NATS_PREFIX: 'one' } });
  t.teardown(() => again.kill9());
  const after = performance.now() - killed;
  t.ok(again.logs().some((l) => l.includes('took over a lease nobody renewed')), `taken over, ready ${Math.round(after)} ms after kill -9`);
  t.ok(after < 15_000, 'within seconds');
  t.equal(await again.stop(), 0, 'and drains cleanly, releasing it');
});

t.test('SIGTERM while waiting out a lease another process left: stopped at once, exit 0, the lease not taken', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const link = await connectNats({ url: nats.url });
  t.teardown(() => link.close());
  // What a killed sagad leaves: a lease nobody renews, of a holder that wrote a minute's life.
  const kv = await new Kvm(link.nc).create(LEASE_BUCKET, { history: 1 });
  const dead: LeaseValue = { holder: 'gone/1/x', host: 'gone', pid: 1, db: '/data/other.db', prefix: 'sagad', ttlMs: 60_000, since: Date.now(), expiresAt: Date.now() + 60_000 };
  await kv.put('sagad', JSON.stringify(dead));
  const env: NodeJS.ProcessEnv = {
    ...process.env, NATS_URL: nats.url, SAGA_DB: join(t.testdir(), 'sagad.db'), SAGA_HTTP_PORT: '0', SAGA_HTTP_HOST: '127.0.0.1',
    SAGA_DEFINITIONS: new URL('../../saga-definitions.yaml', import.meta.url).pathname,
  };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [SAGAD_MAIN], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    createInterface({ input: child.stderr }).on('line', (l) => {
      lines.push(l);
      if (l.includes('is held by another process; taking it over if nobody renews it')) resolve();
    });
  });
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'a stop asked for, not a failure');
  t.ok(lines.some((l) => l.includes('received SIGTERM while starting; stopped')), 'it says it stopped while starting');
  t.notOk(lines.some((l) => l.includes('took over a lease nobody renewed')), 'without waiting the minute out');
  t.same((await kv.get('sagad'))?.json<LeaseValue>(), dead, 'the lease is left as it was');
});
