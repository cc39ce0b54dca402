import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { SagadExitedError, startSagad } from '../helpers/sagad.js';

/**
 * The SQLite guard, with real processes: a second sagad with its own SQLite file on the same
 * NATS and consumer prefix refuses to start and says why and what to do; one with another
 * prefix starts; the first, killed with -9, starts again on its database once its lease expired.
 */
t.test('a second SQLite sagad on one NATS and prefix is refused; a killed one restarts', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const first = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'a', 'sagad.db') });
  t.teardown(() => first.kill9());

  const refused = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'b', 'sagad.db') }).then(
    (s) => { void s.kill9(); return null; },
    (err: unknown) => err,
  );
  t.ok(refused instanceof SagadExitedError, 'the second one exited before it was ready');
  if (refused instanceof SagadExitedError) {
    t.equal(refused.code, 1, 'exit code 1');
    const said = refused.stderr.join('\n');
    t.match(said, /another sagad \(host [^,]+, pid \d+, database [^)]*a\/sagad\.db\) holds the lease/, 'it names the holder');
    t.match(said, /SAGA_DB=postgres/, 'it says how to run replicas');
    t.match(said, /another SAGA_NATS_PREFIX/, 'and how to run an unrelated second sagad');
  }
  t.notOk(existsSync(join(dir, 'b', 'sagad.db')), 'refused before it opened, created or migrated its database file');

  const unrelated = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'c', 'sagad.db'), env: { SAGA_NATS_PREFIX: 'other' } });
  t.pass('another prefix starts beside it');
  await unrelated.stop();

  await first.kill9();
  const again = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'a', 'sagad.db') });
  t.teardown(() => again.kill9());
  t.ok((again.logs().join('\n')).includes('holding the SQLite lease'), 'the restarted one holds the lease again');
  t.equal(await again.stop(), 0, 'and drains cleanly, releasing it');
  const next = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'b', 'sagad.db') });
  t.pass('a released lease lets another database start at once');
  await next.stop();
});
