import { join } from 'node:path';
import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { startPostgres } from '../helpers/postgres.js';
import { SagadExitedError, startSagad } from '../helpers/sagad.js';

/**
 * The mark of the NATS consumer prefix with real processes (the built server): beside a replica
 * on PostgreSQL, a sagad with a SQLite store on the same prefix is refused, and so is a replica
 * of another database; one more replica of the same database starts.
 */
t.setTimeout(180_000);

t.test('beside a PostgreSQL replica: a SQLite sagad and a replica of another database are refused, one of the same database starts', async (t) => {
  const pg = await startPostgres();
  t.teardown(() => pg.stop());
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  await pg.createDatabase('orders');
  await pg.createDatabase('other');
  const first = await startSagad({ natsUrl: nats.url, dbFile: pg.urlOf('orders') });
  t.teardown(() => first.kill9());
  t.ok(first.logs().some((l) => l.includes('marked the NATS consumer prefix as used by the replicas of this PostgreSQL database')), 'the replica marked its prefix');

  const refusal = async (dbFile: string) => startSagad({ natsUrl: nats.url, dbFile }).then((s) => { void s.kill9(); return null; }, (err: unknown) => err);
  const sqlite = await refusal(join(t.testdir(), 'sagad.db'));
  t.ok(sqlite instanceof SagadExitedError, 'the SQLite sagad exited before it was ready');
  if (sqlite instanceof SagadExitedError) {
    t.equal(sqlite.code, 1);
    t.match(sqlite.stderr.join('\n'), new RegExp(`sagad replicas on PostgreSQL \\(database [^;]+/orders; renewed last by host [^,]+, pid ${first.pid}\\) use the NATS consumer prefix sagad: .*give this one their SAGA_DB`));
  }
  const other = await refusal(pg.urlOf('other'));
  t.ok(other instanceof SagadExitedError, 'the replica of another database exited before it was ready');
  if (other instanceof SagadExitedError) {
    t.equal(other.code, 1);
    t.match(other.stderr.join('\n'), /sagad replicas of another PostgreSQL database \([^;]+\/orders; .*\) use the NATS consumer prefix sagad/);
  }

  const second = await startSagad({ natsUrl: nats.url, dbFile: pg.urlOf('orders') });
  t.teardown(() => second.kill9());
  t.equal(await second.stop(), 0, 'one more replica of the same database started, and drains cleanly');
  t.equal(await first.stop(), 0);
});
