import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { SagadExitedError, startSagad } from '../helpers/sagad.js';

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
