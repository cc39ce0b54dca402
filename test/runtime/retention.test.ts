import { join } from 'node:path';
import t from 'tap';
import { listArchived, findArchived } from '../../engine/archive/reader.js';
import { ArchiveWriter } from '../../engine/archive/writer.js';
import { silentLog } from '../../engine/log.js';
import { RetentionService } from '../../engine/runtime/retention.js';
import { openSqlitePort } from '../../engine/store/sqlite-port.js';
import type { StorePort } from '../../engine/store/port.js';
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

/** A port with `n` finished instances (and their definition), at the env's time. */
async function finished(dir: string, env: TestEnv, ids: readonly string[]) {
  const port = await openSqlitePort(join(dir, 'sagad.db'));
  await port.rememberDefinition('hash-1', 'order', 'the source');
  await finish(port, env, ids);
  return port;
}

async function finish(port: Awaited<ReturnType<typeof openSqlitePort>>, env: TestEnv, ids: readonly string[]) {
  for (const id of ids) {
    const s = await started(port, env, id);
    await committed(port, writeOf(env.newId(), changeOf(s.version, decision(env, s, reply(s, 'reserve', 'Nope', env)))));
  }
}

t.test('a compensated instance is kept for the late-success window even when the retention is shorter', async (t) => {
  const dir = t.testdir();
  const env = new TestEnv();
  const port = await finished(dir, env, ['c-1']);
  t.teardown(() => port.close());
  let done = await started(port, env, 'd-1');
  for (const step of ['reserve', 'charge', 'ship']) {
    const d = decision(env, done, reply(done, step, 'Done', env));
    await committed(port, writeOf(env.newId(), changeOf(done.version, d)));
    done = d.state;
  }
  t.equal(done.status, 'completed');
  let now = env.now + 1_001;
  const archive = new ArchiveWriter({ dir: join(dir, 'archive'), definition: async () => ({ name: 'order', source: 'the source' }) });
  const service = new RetentionService(port, {
    retentionMs: 1_000, lateSuccessWindowMs: 60_000, dlqRetentionMs: null, intervalMs: 60_000, batch: 10, archive, log: silentLog, now: () => now,
  });
  t.match(await service.pass(), { archived: 1, deleted: 1 }, 'past the retention: the completed one only');
  t.same((await port.listInstances({ limit: 10 })).items.map((i) => [i.id, i.status]), [['c-1', 'compensated']],
    'the compensated one stays while a late success may still reopen it');
  now = env.now + 60_001;
  t.match(await service.pass(), { archived: 1, deleted: 1 }, 'past the window it goes too');
  t.same((await port.listInstances({ limit: 10 })).items, []);
  await service.stop();
});

interface Line { level: string; msg: string; fields?: Record<string, unknown> }

/** Resolves once `lines` has `n` lines (the service works on its own schedule; polled every 10 ms). */
async function lines(list: Line[], n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (list.length < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for log line ${n}: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('started, it runs a pass soon, logs what it did, and runs again after the interval until stopped', async (t) => {
  const dir = t.testdir();
  const env = new TestEnv();
  const port = await finished(dir, env, ['a-1', 'a-2', 'a-3']);
  t.teardown(() => port.close());
  const logs: Line[] = [];
  const archive = new ArchiveWriter({ dir: join(dir, 'archive'), definition: async () => ({ name: 'order', source: 'the source' }) });
  const service = new RetentionService(port, {
    retentionMs: 1_000, dlqRetentionMs: null, intervalMs: 50, batch: 10, archive, log: (level, msg, fields) => { logs.push({ level, msg, fields }); }, now: () => env.now + 1_001,
  });
  service.start();
  await lines(logs, 1);
  t.match(logs[0], { level: 'info', msg: 'retention pass', fields: { archived: 3, deleted: 3, deadLetters: 0, batches: 1, bytes: Number, ms: Number } });
  t.ok((logs[0]?.fields?.bytes as number) > 0, 'with the bytes archived');
  t.equal((await port.listInstances({ limit: 10 })).items.length, 0, 'the finished instances are gone');
  // Passes that find nothing say nothing; the next one that finds something does.
  await finish(port, env, ['b-1']);
  await lines(logs, 2);
  t.match(logs[1], { level: 'info', msg: 'retention pass', fields: { archived: 1, deleted: 1, deadLetters: 0, batches: 1 } });
  await service.stop();
  t.equal(logs.length, 2, 'the passes that found nothing logged nothing');
});

t.test('a pass that fails is logged, and the next pass runs', async (t) => {
  const dir = t.testdir();
  const env = new TestEnv();
  const port = await finished(dir, env, ['a-1']);
  t.teardown(() => port.close());
  let failures = 1;
  const flaky = { ...port, retire: (...a: Parameters<typeof port.retire>) => (failures-- > 0 ? Promise.reject(new Error('disk I/O error')) : port.retire(...a)) };
  const logs: Line[] = [];
  const archive = new ArchiveWriter({ dir: join(dir, 'archive'), definition: async () => ({ name: 'order', source: 'the source' }) });
  const service = new RetentionService(flaky, {
    retentionMs: 1_000, dlqRetentionMs: null, intervalMs: 50, batch: 10, archive, log: (level, msg, fields) => { logs.push({ level, msg, fields }); }, now: () => env.now + 1_001,
  });
  t.teardown(() => service.stop());
  service.start();
  await lines(logs, 2);
  t.same(logs[0], { level: 'error', msg: 'retention pass failed; trying again at the next one', fields: { error: 'disk I/O error' } });
  t.match(logs[1], { level: 'info', msg: 'retention pass', fields: { archived: 1 } });
});

t.test('dead letters alone: pruned in batches, the newer kept, no instance archived', async (t) => {
  const dir = t.testdir();
  const env = new TestEnv();
  const port = await finished(dir, env, ['a-1']);
  t.teardown(() => port.close());
  for (let i = 0; i < 7; i++) await port.park({ subject: 'x', reason: 'r', headers: {}, data: Buffer.from(`old-${i}`), deliveryCount: 1, at: env.now - 10_000 });
  await port.park({ subject: 'x', reason: 'r', headers: {}, data: Buffer.from('new'), deliveryCount: 1, at: env.now + 10_000 });
  const archive = new ArchiveWriter({ dir: join(dir, 'archive'), definition: async () => undefined });
  const service = new RetentionService(port, { retentionMs: null, dlqRetentionMs: 1_000, intervalMs: 60_000, batch: 3, archive, log: silentLog, now: () => env.now });
  t.same(await service.pass(), { archived: 0, deleted: 0, deadLetters: 7, batches: 0, bytes: 0 }, 'seven old letters in batches of three');
  t.same((await port.listDead()).items.map((l) => Buffer.from(l.head).toString()), ['new']);
  t.equal((await port.listInstances({ limit: 10 })).items.length, 1, 'the finished instance stays: no instance retention');
  await service.stop();
});

t.test('only what is older than its retention goes: newer finished instances and dead letters stay; no DLQ retention keeps every letter', async (t) => {
  const dir = t.testdir();
  const env = new TestEnv();
  const port = await finished(dir, env, ['old']);
  t.teardown(() => port.close());
  env.now += 10_000;
  await finish(port, env, ['new']);
  await port.park({ subject: 'x', reason: 'r', headers: {}, data: Buffer.from('old letter'), deliveryCount: 1, at: env.now - 10_000 });
  await port.park({ subject: 'x', reason: 'r', headers: {}, data: Buffer.from('new letter'), deliveryCount: 1, at: env.now });
  const archive = new ArchiveWriter({ dir: join(dir, 'archive'), definition: async () => ({ name: 'order', source: 'the source' }) });
  // Five seconds of retention, read five seconds after the new ones: the old ones are 15 s old.
  const instancesOnly = new RetentionService(port, { retentionMs: 5_000, dlqRetentionMs: null, intervalMs: 60_000, batch: 10, archive, log: silentLog, now: () => env.now + 5_000 - 1 });
  t.match(await instancesOnly.pass(), { archived: 1, deadLetters: 0 });
  t.same((await port.listInstances({ limit: 10 })).items.map((i) => i.id), ['new'], 'the newer instance stays');
  t.equal((await port.listDead()).items.length, 2, 'without a DLQ retention no letter goes');
  await instancesOnly.stop();
  const lettersOnly = new RetentionService(port, {
    retentionMs: null, dlqRetentionMs: 5_000, intervalMs: 60_000, batch: 10, log: silentLog, now: () => env.now + 5_000 - 1,
    archive: new ArchiveWriter({ dir: join(dir, 'archive2'), definition: async () => undefined }),
  });
  t.match(await lettersOnly.pass(), { archived: 0, deadLetters: 1 });
  t.same((await port.listDead()).items.map((l) => Buffer.from(l.head).toString()), ['new letter'], 'the newer letter stays');
  t.same((await port.listInstances({ limit: 10 })).items.map((i) => i.id), ['new'], 'without an instance retention no instance goes');
  await lettersOnly.stop();
});

t.test('between two batches the pass pauses three times as long as the batch held the event loop (at most a quarter of it)', async (t) => {
  const dir = t.testdir();
  const port = await openSqlitePort(join(dir, 'sagad.db'));
  t.teardown(() => port.close());
  const env = new TestEnv();
  await port.rememberDefinition('hash-1', 'order', 'the source');
  for (let i = 0; i < 10; i++) {
    const s = await started(port, env, `i-${i}`);
    await committed(port, writeOf(env.newId(), changeOf(s.version, decision(env, s, reply(s, 'reserve', 'Nope', env)))));
  }
  // The real port, its answers recorded: how long each batch said it held the event loop.
  const busy: number[] = [];
  const recorded: StorePort = { ...port, retire: async (...a) => {
    const r = await port.retire(...a);
    busy.push(r.busyMs);
    return r;
  } };
  const pauses: number[] = [];
  const archive = new ArchiveWriter({ dir: join(dir, 'archive'), definition: async () => ({ name: 'order', source: 'the source' }) });
  const service = new RetentionService(recorded, {
    retentionMs: 1_000, dlqRetentionMs: null, intervalMs: 60_000, batch: 3, archive, log: silentLog, now: () => env.now + 1_001,
    pause: async (ms) => { pauses.push(ms); },
  });
  const r = await service.pass();
  await service.stop();
  t.same({ archived: r.archived, batches: r.batches }, { archived: 10, batches: 4 }, '10 instances in batches of 3');
  t.equal(busy.length, 4, 'four batches read');
  t.same(pauses, busy.slice(0, 3).map((b) => Math.min(1_000, 3 * b)), 'a pause after each full batch, three times its busy time; none after the last');
});
