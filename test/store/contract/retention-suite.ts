import type { Test } from 'tap';
import { timerId, type InstanceState } from '../../../engine/core/index.js';
import type { StorePort } from '../../../engine/store/port.js';
import { parseRetired, type RetireBefore, type RetiredInstance } from '../../../engine/store/retention.js';
import { changeOf, committed, decision, reply, started, TestEnv, writeOf, type PortFactory } from './writes.js';

/** Feeds one reply through the core and commits it. */
async function answer(port: StorePort, env: TestEnv, s: InstanceState, step: string, type: string): Promise<InstanceState> {
  const d = decision(env, s, reply(s, step, type, env));
  await committed(port, writeOf(env.newId(), changeOf(s.version, d)));
  return d.state;
}

/** Fires the instance's earliest timer through the core and commits it. */
async function fireNext(port: StorePort, env: TestEnv, s: InstanceState): Promise<InstanceState> {
  const [row] = await port.timersOf(s.id);
  if (row === undefined) throw new Error(`${s.id} has no timer`);
  env.now = Math.max(env.now, row.dueAt);
  const d = decision(env, s, { type: 'TimerFired', timer: row.data });
  await committed(port, writeOf(null, changeOf(s.version, d), { instanceId: s.id, timerId: timerId(row.data), dueAt: row.dueAt }));
  return d.state;
}

/** Instances in every status: completed, compensated (reserve refused), failed (its undo times out), running. */
async function population(port: StorePort, env: TestEnv): Promise<Record<'done' | 'comp' | 'failed' | 'run', InstanceState>> {
  let done = await started(port, env, 'i-done', { key: 'k-done' });
  for (const step of ['reserve', 'charge', 'ship']) done = await answer(port, env, done, step, 'Done');
  let comp = await started(port, env, 'i-comp');
  comp = await answer(port, env, comp, 'reserve', 'Nope');
  let failed = await started(port, env, 'i-failed');
  failed = await answer(port, env, failed, 'reserve', 'Done');
  failed = await answer(port, env, failed, 'charge', 'Nope');
  for (let i = 0; i < 10 && failed.status === 'compensating'; i++) failed = await fireNext(port, env, failed);
  let run = await started(port, env, 'i-run');
  run = await answer(port, env, run, 'reserve', 'Done');
  return { done, comp, failed, run };
}

/** Retires until nothing is left, collecting what was handed to the archive. */
async function retireAll(port: StorePort, before: RetireBefore, limit: number): Promise<{ handed: RetiredInstance[]; deleted: number }> {
  const handed: RetiredInstance[] = [];
  let deleted = 0;
  let after: Parameters<StorePort['retire']>[3];
  for (;;) {
    const r = await port.retire(before, limit, async (b) => {
      handed.push(...b);
    }, after);
    deleted += r.deleted;
    if (r.next === null) return { handed, deleted };
    after = r.next;
  }
}

/** The retention part of the store port's contract, run against every adapter. */
export function retentionContract(t: Test, f: PortFactory): void {
  const open = async (t: Test): Promise<StorePort> => {
    const port = await (await f.fresh()).open();
    t.teardown(() => port.close());
    return port;
  };

  t.test('finished instances past the cutoff go to the archive with their journal, then every row of theirs is deleted', async (t) => {
    const port = await open(t);
    const env = new TestEnv();
    const { done, comp, failed, run } = await population(port, env);
    t.same([done.status, comp.status, failed.status, run.status], ['completed', 'compensated', 'failed', 'running'], 'one of each');
    const journals = { done: await port.history('i-done'), comp: await port.history('i-comp') };
    const commandOfDone = done.steps.reserve?.commands[0] ?? '';
    t.ok(await port.replyTarget(commandOfDone), 'the command index knows a command of i-done before');

    const { handed, deleted } = await retireAll(port, env.now + 1, 10);
    t.same(handed.map((r) => r.id).sort(), ['i-comp', 'i-done'], 'completed and compensated only: failed waits for an operator, running is running');
    t.equal(deleted, 2);
    const byId = new Map(handed.map((r) => [r.id, parseRetired(r)]));
    t.same(byId.get('i-done')?.state, done, 'the state document as stored');
    t.same(byId.get('i-done')?.journal, journals.done, 'the whole journal as stored');
    t.same(byId.get('i-comp')?.journal, journals.comp);
    t.equal(byId.get('i-done')?.journal.length, done.version, 'every event');
    t.same(byId.get('i-done')?.timers, [], 'no timer left');
    for (const r of handed) {
      const st = parseRetired(r).state;
      t.same([r.id, r.version, r.definitionHash], [st.id, st.version, st.definitionHash], `${r.id}: id, version and hash as in its state`);
    }

    for (const id of ['i-done', 'i-comp']) {
      t.equal(await port.getInstance(id), undefined, `${id} is gone`);
      t.same(await port.history(id), [], `${id}'s journal is gone`);
      t.same(await port.timersOf(id), [], `${id}'s timers are gone`);
    }
    t.equal(await port.replyTarget(commandOfDone), undefined, 'its command index rows are gone: a late reply concerns no instance');
    t.equal(await port.findByKey('order', 'k-done'), undefined, 'its key is free again');
    t.same(await port.getInstance('i-failed'), failed, 'failed stays');
    t.same(await port.getInstance('i-run'), run, 'running stays');
    t.equal((await port.history('i-run')).length, run.version);
    const g = await port.gauges();
    t.same(g.instances.map((r) => r.status).sort(), ['failed', 'running']);
    t.same((await port.listInstances()).items.map((i) => i.id).sort(), ['i-failed', 'i-run']);
  });

  t.test('only instances created and finished before the cutoff, oldest first, a batch at a time', async (t) => {
    const port = await open(t);
    const env = new TestEnv();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      env.now += 1_000;
      let s = await started(port, env, `i-${i}`);
      s = await answer(port, env, s, 'reserve', 'Nope');
      ids.push(s.id);
    }
    // i-4 finished at the cutoff: not before it.
    const cutoff = env.now;
    const first = await port.retire(cutoff, 2, async (b) => {
      t.same(b.map((r) => r.id), ['i-0', 'i-1'], 'the oldest two');
    });
    t.match(first, { archived: 2, deleted: 2, busyMs: Number });
    t.ok(first.busyMs >= 0, 'how long it held the event loop');
    const rest = await retireAll(port, cutoff, 2);
    t.same(rest.handed.map((r) => r.id), ['i-2', 'i-3']);
    t.same((await port.listInstances()).items.map((i) => i.id), ['i-4'], 'the one finished at the cutoff stays');
    t.match(await port.retire(cutoff, 2, async () => {
      throw new Error('nothing to hand over: keep must not be called');
    }), { archived: 0, deleted: 0 }, 'nothing left: keep is not called');
  });

  t.test('a cutoff per status: each status is retired by its own', async (t) => {
    const port = await open(t);
    const env = new TestEnv();
    let comp = await started(port, env, 'i-comp');
    comp = await answer(port, env, comp, 'reserve', 'Nope');
    env.now += 1_000;
    let done = await started(port, env, 'i-done');
    for (const step of ['reserve', 'charge', 'ship']) done = await answer(port, env, done, step, 'Done');
    t.same([comp.status, done.status], ['compensated', 'completed']);
    // The compensated one is the older; its cutoff lies before it ended.
    const kept = await retireAll(port, { completed: env.now + 1, compensated: comp.updatedAt }, 10);
    t.same(kept.handed.map((r) => r.id), ['i-done'], 'the completed one is past its cutoff; the compensated one is not past its own');
    t.same(await port.getInstance('i-comp'), comp, 'the compensated one stays, unchanged');
    const later = await retireAll(port, { completed: 0, compensated: env.now + 1 }, 10);
    t.same(later.handed.map((r) => r.id), ['i-comp'], 'past its cutoff, it goes');
    t.equal(await port.getInstance('i-comp'), undefined);
  });

  t.test('when the archive fails nothing is deleted', async (t) => {
    const port = await open(t);
    const env = new TestEnv();
    let s = await started(port, env, 'i-1');
    s = await answer(port, env, s, 'reserve', 'Nope');
    await t.rejects(port.retire(env.now + 1, 10, async () => {
      throw new Error('disk full');
    }), { message: 'disk full' });
    t.same(await port.getInstance('i-1'), s, 'still there');
    t.equal((await port.history('i-1')).length, s.version, 'with its journal');
    const again = await retireAll(port, env.now + 1, 10);
    t.same(again.handed.map((r) => r.id), ['i-1'], 'the next pass takes it');
  });

  t.test('dead letters received before a time are deleted, oldest first, at most a batch', async (t) => {
    const port = await open(t);
    const letter = (at: number) => ({ subject: 'x.events', reason: 'not an envelope', headers: {}, data: Buffer.from(`m-${at}`), deliveryCount: 1, at });
    for (const at of [1_000, 2_000, 3_000, 4_000]) await port.park(letter(at));
    t.equal(await port.pruneDeadLetters(3_500, 2), 2, 'a batch of two');
    t.equal(await port.pruneDeadLetters(3_500, 2), 1, 'then the third');
    t.equal(await port.pruneDeadLetters(3_500, 2), 0);
    t.same((await port.listDead()).items.map((l) => l.receivedAt), [4_000], 'the newest stays');
  });

  t.test('a read-only store refuses retention', async (t) => {
    const place = await f.fresh();
    const writer = await place.open();
    await writer.close();
    const ro = await place.open({ readonly: true });
    t.teardown(() => ro.close());
    await t.rejects(ro.retire(Date.now(), 10, async () => undefined), { code: 'SAGA_ERR_READ_ONLY' });
    await t.rejects(ro.pruneDeadLetters(Date.now(), 10), { code: 'SAGA_ERR_READ_ONLY' });
  });
}
