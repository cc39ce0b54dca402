import { join } from 'node:path';
import t from 'tap';
import { listArchived, readArchive } from '../../engine/archive/reader.js';
import { openStore } from '../../engine/store/index.js';
import { startSagad, waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { pool, startWorld } from './harness.js';

/**
 * The crash walk of the retention group (fault-walk.ts): sagad is killed between the sync of
 * an archive batch and the delete of its instances; nothing may be lost, and the instances of
 * that batch, archived again by the next pass, are read once.
 */
t.setTimeout(120_000);
const N = 20;
const BATCH = 5;

t.test('SIGKILL at after-archive-before-delete: every instance is in the store or the archive, and after a restart in the archive once', async (t) => {
  const w = await startWorld(t);
  const ids = Array.from({ length: N }, (_, i) => `ret-${String(i).padStart(2, '0')}`);
  await pool(ids, 4, (id, i) => w.api.started(order(`o-${id}${i % 4 === 3 ? '~decline' : ''}`), { id }));
  await waitFor(async () => (await w.api.list()).every((s) => s.state === 'completed' || s.state === 'compensated') || undefined, 30_000,
    { what: 'every saga to end' });
  const ended = await w.api.list();
  t.equal(ended.length, N, 'all ended', w.diag());
  await w.sagad.stop();

  const launch = (env: Record<string, string>) => startSagad({
    natsUrl: w.nats.url, dbFile: w.dbFile, definitions: w.definitions,
    env: { SAGA_LOG_LEVEL: 'info', SAGA_RETENTION: '1ms', SAGA_LATE_SUCCESS_WINDOW: '1ms', SAGA_RETENTION_INTERVAL: '1s', SAGA_RETENTION_BATCH: String(BATCH), ...env },
  });
  w.sagad = await launch({ SAGA_FAULT: 'after-archive-before-delete:2' });
  const died = await Promise.race([w.sagad.exitStatus(), new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
  t.equal(died?.signal, 'SIGKILL', 'killed at the fault point', w.diag({ died }));
  const line = w.sagad.logs().find((l) => l.includes('"fault point reached'));
  t.match(line === undefined ? null : JSON.parse(line), { point: 'after-archive-before-delete', pass: 2 }, 'its last word names the point');

  // Offline, as an operator would look: what the store still holds and what the archive holds.
  const archiveDir = join(w.dir, 'archive');
  const store = openStore(w.dbFile, { readonly: true });
  const inStore = store.listInstances({ limit: 500 }).items.map((i) => i.id);
  store.close();
  const archived: string[] = [];
  for await (const { line: l } of readArchive(archiveDir)) if (l.kind === 'instance') archived.push(l.instance.id);
  t.equal(archived.length, 2 * BATCH, 'two batches archived and synced');
  t.equal(inStore.length, N - BATCH, 'only the first deleted');
  t.same([...new Set([...inStore, ...archived])].sort(), ids, 'every instance is in the store or the archive: none lost');
  t.equal(archived.filter((id) => inStore.includes(id)).length, BATCH, 'the batch in hand is in both');

  w.sagad = await launch({});
  await waitFor(async () => (await w.api.list()).length === 0 || undefined, 30_000, { what: 'retention to empty the store' }).catch(() => undefined);
  t.same(await w.api.list(), [], 'the restarted sagad retired the rest', w.diag());
  const raw: string[] = [];
  for await (const { line: l } of readArchive(archiveDir)) if (l.kind === 'instance') raw.push(l.instance.id);
  t.equal(raw.length, N + BATCH, 'the batch in hand was archived a second time');
  const listed = await listArchived(archiveDir, {}, 1_000);
  t.same(listed.items.map((i) => i.id).sort(), ids, 'the reader shows each instance once');
  t.same(listed.items.map((i) => i.status).sort(), ended.map((s) => s.state).sort(), 'in the state it ended in');
  const doc = await w.api.req('GET', `/v1/instances/${ids[0] ?? ''}`);
  t.equal(doc.status, 404, 'a retired instance is gone from the API');
});
