import { join } from 'node:path';
import t from 'tap';
import { openStore } from '../../engine/store/index.js';
import { cli } from '../cli/helpers.js';
import { startSagad, waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { pool, startWorld } from './harness.js';

/**
 * Backup and restore (docs/operations.md): `sagactl admin backup` copies the SQLite store
 * while sagad works under load; a new sagad started on the copy has every instance the copy
 * holds, and each of them ends, those caught mid-step by the copy included (their replies went
 * to the old sagad: the step's timeout and retry bring them to an end, and the participant's
 * idempotency keys keep the work single).
 */
t.setTimeout(150_000);
const N = 40;

t.test('a backup taken under load, restored into a new sagad: the instances are there and finish', async (t) => {
  const w = await startWorld(t);
  const ids = Array.from({ length: N }, (_, i) => `bk-${String(i).padStart(2, '0')}`);
  const kinds = ['', '~decline', '~busy1', '', '~shipreject'];
  let sent = 0;
  const copy = join(w.dir, 'backup.db');
  const load = pool(ids, 4, async (id, i) => {
    await w.api.started(order(`o-${id}${kinds[i % kinds.length] ?? ''}`), { id });
    sent += 1;
  });
  // Half-way through the load, with sagas in every stage, take the copy beside the running sagad.
  await waitFor(() => sent >= N / 2 || undefined, 30_000, { what: 'half the load to be started' });
  const backup = await cli(['admin', 'backup', copy, '--db', w.dbFile]);
  await load;
  t.equal(backup.code, 0, backup.err);
  t.match(backup.out, /^Backed up .* instances/);

  const inCopy = (() => {
    const s = openStore(copy, { readonly: true });
    try {
      return s.listInstances({ limit: 500 }).items.map((i) => ({ id: i.id, state: i.status }));
    } finally {
      s.close();
    }
  })();
  t.ok(inCopy.length >= N / 2, `the copy holds the ${inCopy.length} instances started before it`);
  t.ok(inCopy.some((i) => i.state === 'running' || i.state === 'compensating'), 'some of them mid-way when copied', { inCopy });

  await waitFor(async () => (await w.api.list()).every((s) => s.state !== 'running' && s.state !== 'compensating') || undefined, 60_000,
    { what: 'the original to finish its load' });
  t.equal(await w.sagad.stop(), 0, 'the original sagad stopped');

  // Restore: the copy is the new database; the same NATS, streams and participant.
  w.sagad = await startSagad({ natsUrl: w.nats.url, dbFile: copy, definitions: w.definitions, env: { SAGA_LOG_LEVEL: 'info' } });
  await waitFor(async () => {
    const all = await w.api.list();
    return all.length === inCopy.length && all.every((s) => s.state === 'completed' || s.state === 'compensated') || undefined;
  }, 60_000, { what: 'every restored instance to end' }).catch(() => undefined);
  const after = await w.api.list();
  t.same(after.map((s) => s.id).sort(), inCopy.map((i) => i.id).sort(), 'the restored sagad has exactly the instances of the copy', w.diag());
  t.same(after.filter((s) => s.state !== 'completed' && s.state !== 'compensated'), [], 'and every one of them ended', w.diag({ after }));
  for (const i of inCopy.filter((x) => x.state === 'completed' || x.state === 'compensated')) {
    t.equal(after.find((s) => s.id === i.id)?.state, i.state, `${i.id}, ended before the copy, is unchanged`);
  }
});
