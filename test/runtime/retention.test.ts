import { join } from 'node:path';
import t from 'tap';
import { listArchived, findArchived } from '../../engine/archive/reader.js';
import { ArchiveWriter } from '../../engine/archive/writer.js';
import { silentLog } from '../../engine/log.js';
import { RetentionService } from '../../engine/runtime/retention.js';
import { openSqlitePort } from '../../engine/store/sqlite-port.js';
import { changeOf, committed, decision, reply, started, TestEnv, writeOf } from '../store/contract/writes.js';

t.test('a pass archives every finished instance past the retention in batches, deletes them, and prunes dead letters', async (t) => {
  const dir = t.testdir();
  const port = await openSqlitePort(join(dir, 'sagad.db'));
  t.teardown(() => port.close());
  const env = new TestEnv();
  await port.rememberDefinition('hash-1', 'order', 'the source');
  for (let i = 0; i < 23; i++) {
    const s = await started(port, env, `i-${String(i).padStart(2, '0')}`);
    if (i % 5 !== 4) await committed(port, writeOf(env.newId(), changeOf(s.version, decision(env, s, reply(s, 'reserve', 'Nope', env)))));
  }
  await port.park({ subject: 'x', reason: 'r', headers: {}, data: Buffer.from('old'), deliveryCount: 1, at: env.now - 10_000 });
  await port.park({ subject: 'x', reason: 'r', headers: {}, data: Buffer.from('new'), deliveryCount: 1, at: env.now + 10_000 });
  const archive = new ArchiveWriter({ dir: join(dir, 'archive'), definition: async (h) => (h === 'hash-1' ? { name: 'order', source: 'the source' } : undefined) });
  const service = new RetentionService(port, {
    retentionMs: 1_000, dlqRetentionMs: 1_000, intervalMs: 60_000, batch: 4, archive, log: silentLog, now: () => env.now + 1_001,
  });
  const r = await service.pass();
  t.same({ archived: r.archived, deleted: r.deleted, dead: r.deadLetters, batches: r.batches }, { archived: 19, deleted: 19, dead: 1, batches: 5 },
    '19 of 23 finished (4 still running), in batches of 4, one old dead letter');
  t.ok(r.bytes > 0, 'the archive grew');
  const left = (await port.listInstances({ limit: 100 })).items;
  t.same(left.map((i) => i.status), Array(4).fill('running'), 'the running ones stay');
  const listed = await listArchived(join(dir, 'archive'), {}, 100);
  t.equal(listed.total, 19, 'each archived instance listed once');
  const one = await findArchived(join(dir, 'archive'), 'i-00');
  t.equal(one?.record.journal.length, one?.record.instance.version, 'with its whole journal');
  t.equal(one?.definitions.get('hash-1')?.source, 'the source', 'and its definition');
  t.same((await port.listDead()).items.map((l) => Buffer.from(l.head).toString()), ['new'], 'the newer dead letter stays');
  t.same(await service.pass(), { archived: 0, deleted: 0, deadLetters: 0, batches: 1, bytes: 0 }, 'a second pass finds nothing');
  await service.stop();
  t.same(await service.pass(), { archived: 0, deleted: 0, deadLetters: 0, batches: 0, bytes: 0 }, 'stopped: a pass does nothing');
});

t.test('without a retention the service never runs', async (t) => {
  const dir = t.testdir();
  const port = await openSqlitePort(join(dir, 'sagad.db'));
  t.teardown(() => port.close());
  const archive = new ArchiveWriter({ dir: join(dir, 'archive'), definition: async () => undefined });
  const service = new RetentionService(port, { retentionMs: null, dlqRetentionMs: null, intervalMs: 10, batch: 4, archive, log: silentLog });
  service.start();
  t.same(await service.pass(), { archived: 0, deleted: 0, deadLetters: 0, batches: 0, bytes: 0 }, 'a pass without retention touches nothing');
  await service.stop();
});
