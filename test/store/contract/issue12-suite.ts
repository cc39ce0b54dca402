import type { Test } from 'tap';
import type { InstanceState } from '../../../engine/core/index.js';
import type { EarlyEvent } from '../../../engine/store/early-events.js';
import type { StorePort } from '../../../engine/store/port.js';
import { changeOf, committed, decision, reply, started, TestEnv, writeOf, type PortFactory } from './writes.js';

/** Feeds one input through the core and commits it; returns the state after. */
async function step(port: StorePort, env: TestEnv, s: InstanceState, input: Parameters<typeof decision>[2], id: string): Promise<InstanceState> {
  env.now += 10;
  const d = decision(env, s, input);
  await committed(port, writeOf(id, changeOf(s.version, d)));
  return d.state;
}

/** Runs out the compensation attempts of `name`: the instance ends `failed`. */
async function exhaust(port: StorePort, env: TestEnv, s: InstanceState, name: string): Promise<InstanceState> {
  let n = 0;
  while (s.status === 'compensating') {
    const comp = s.steps[name]?.compensation;
    if (comp === null || comp === undefined) throw new Error(`${name} is not compensating`);
    const kind = comp.status === 'running' ? 'comp_timeout' : 'comp_retry';
    s = await step(port, env, s, { type: 'TimerFired', timer: { kind, step: name, attempt: comp.attempt } }, `t-${++n}`);
  }
  return s;
}

/** Issue 12's additions to the store port's contract, run against every adapter. */
export function issue12Contract(t: Test, f: PortFactory): void {
  t.test('hashesInUse: every instance that may still take an input pins its definition, a completed one does not', async (t) => {
    const port = await (await f.fresh()).open();
    t.teardown(() => port.close());
    const env = new TestEnv();
    let compensated = await started(port, env, 'i-comp');
    compensated = await step(port, env, compensated, reply(compensated, 'reserve', 'Nope', env), 'r-1');
    t.equal(compensated.status, 'compensated', 'a business failure of the first step ends the saga compensated');
    t.same(await port.hashesInUse(), ['hash-1'], 'a compensated instance may still take a late success');

    let failed = await started(port, env, 'i-fail');
    failed = await step(port, env, failed, reply(failed, 'reserve', 'Done', env), 'r-2');
    failed = await step(port, env, failed, reply(failed, 'charge', 'Nope', env), 'r-3');
    failed = await exhaust(port, env, failed, 'reserve');
    t.equal(failed.status, 'failed', 'a compensation that keeps timing out leaves the instance failed');
    t.same(await port.hashesInUse(), ['hash-1']);
  });
}

/** An early event of instance `id` as the engine keeps it. */
function early(id: string, eventId: string, over: Partial<EarlyEvent> = {}): EarlyEvent {
  return {
    instanceId: id, eventId, subject: 'orders.approvals', type: 'OrderApproved', keptAt: 1_000, expiresAt: 10_000,
    headers: { 'Nats-Msg-Id': eventId }, data: new Uint8Array([1, 2, 3, eventId.length]), ...over,
  };
}

/** Issue 12's early events, on every adapter. */
export function earlyEventsContract(t: Test, f: PortFactory): void {
  t.test('early events: kept once per instance and event, bounded, oldest first, with their bytes', async (t) => {
    const port = await (await f.fresh()).open();
    t.teardown(() => port.close());
    t.equal(await port.keepEarlyEvent(early('i-1', 'e-2', { keptAt: 2_000 }), 2), 'kept');
    t.equal(await port.keepEarlyEvent(early('i-1', 'e-1'), 2), 'kept');
    t.equal(await port.keepEarlyEvent(early('i-1', 'e-1'), 2), 'kept', 'a redelivery keeps it again, once');
    t.equal(await port.keepEarlyEvent(early('i-1', 'e-3'), 2), 'full', 'the third for the instance is refused');
    t.equal(await port.keepEarlyEvent(early('i-2', 'e-3'), 2), 'kept', 'the bound is per instance');
    const kept = await port.earlyEventsOf('i-1');
    t.same(kept.map((e) => e.eventId), ['e-1', 'e-2'], 'oldest first');
    t.same(kept[0], early('i-1', 'e-1'), 'every field as kept');
    t.same([...(kept[0]?.data ?? [])], [1, 2, 3, 3], 'the bytes as they arrived');
    await port.dropEarlyEvent('i-1', 'e-1');
    await port.dropEarlyEvent('i-1', 'e-1');
    t.same((await port.earlyEventsOf('i-1')).map((e) => e.eventId), ['e-2'], 'dropped, twice without harm');
    t.same(await port.earlyEventsOf('nobody'), []);
  });

  t.test('early events: a message already applied (its id in the inbox) is not kept, so no later wait step takes it again', async (t) => {
    const port = await (await f.fresh()).open();
    t.teardown(() => port.close());
    // Its first delivery was written (and its ack lost): the redelivery finds it kept nowhere.
    await committed(port, { messageId: 'e-done', firedTimer: null, changes: [] });
    t.equal(await port.keepEarlyEvent(early('i-1', 'e-done'), 2), 'processed');
    t.same(await port.earlyEventsOf('i-1'), [], 'nothing kept');
    t.equal(await port.keepEarlyEvent(early('i-1', 'e-new'), 2), 'kept', 'a message not yet applied is kept');
    t.same((await port.earlyEventsOf('i-1')).map((e) => e.eventId), ['e-new']);
  });

  t.test('early events: parkEarlyEvent reports a letter it parked, not one parked before under its delivery id', async (t) => {
    const port = await (await f.fresh()).open();
    t.teardown(() => port.close());
    const letter = (reason: string) => ({ subject: 'orders.approvals', reason, headers: {}, data: new Uint8Array([9]), deliveryCount: 1, at: 20_000 });
    await port.keepEarlyEvent(early('i-1', 'e-1'), 10);
    t.equal(await port.parkEarlyEvent('i-1', 'e-1', letter('expired'), 'dead-letter/early/i-1/e-1'), true, 'kept: parked now');
    t.equal(await port.parkEarlyEvent('i-1', 'e-1', letter('gone'), 'dead-letter/early/i-1/e-1'), false, 'gone: nothing parked');
    // A repeat: the event kept again after its letter was parked under the same delivery id.
    await port.keepEarlyEvent(early('i-1', 'e-1'), 10);
    t.equal(await port.parkEarlyEvent('i-1', 'e-1', letter('repeat'), 'dead-letter/early/i-1/e-1'), false, 'parked before: not parked again, nothing to count');
    t.same(await port.earlyEventsOf('i-1'), [], 'forgotten all the same');
    t.same((await port.listDead()).items.map((l) => l.reason), ['expired'], 'one letter');
  });

  t.test('early events due: the expired ones, and the valid ones whose instance now waits for them', async (t) => {
    const port = await (await f.fresh()).open();
    t.teardown(() => port.close());
    const env = new TestEnv();
    const s = await started(port, env, 'i-1');
    await port.keepEarlyEvent(early('i-1', 'e-wait'), 10);
    await port.keepEarlyEvent(early('i-1', 'e-other', { type: 'OrderRejected' }), 10);
    await port.keepEarlyEvent(early('i-1', 'e-old', { expiresAt: 5_000 }), 10);
    let due = await port.earlyEventsDue(5_000, 10);
    t.same(due.deliverable, [], 'no instance waits yet');
    t.same(due.expired.map((e) => e.eventId), ['e-old'], 'expired at its expiry time');

    env.now += 10;
    const d = decision(env, s, reply(s, 'reserve', 'Done', env));
    await committed(port, writeOf('r-1', changeOf(s.version, d, { put: [{ step: 'approve', subject: 'orders.approvals', type: 'OrderApproved', correlationId: null }], remove: [] })));
    due = await port.earlyEventsDue(5_000, 10);
    t.same(due.deliverable.map((e) => e.eventId), ['e-wait'], 'the event of the subject and type the instance now waits for');
    t.same((await port.earlyEventsDue(10_000, 10)).deliverable, [], 'but not once it expired');
    t.same((await port.earlyEventsDue(10_000, 10)).expired.map((e) => e.eventId).sort(), ['e-old', 'e-other', 'e-wait']);
    t.same((await port.earlyEventsDue(10_000, 1)).expired.length, 1, 'at most limit');
  });
}

/** Issue 12's rebuild of instance rows from the journal, on every adapter. */
export function rebuildContract(t: Test, f: PortFactory): void {
  t.test('rebuildInstance rewrites a row and snapshot that drifted from the journal, reports how, and a second run changes nothing', async (t) => {
    const port = await (await f.fresh()).open({ snapshotEvery: 2 });
    t.teardown(() => port.close());
    const env = new TestEnv();
    const s = await started(port, env, 'i-1');
    await started(port, env, 'i-0');
    t.same(await port.rebuildInstance('i-1'), { id: 'i-1', changed: false, differences: [] }, 'a row that fits its journal is left alone');

    // A write whose row does not fit its events: the projection drifts from the journal.
    env.now += 10;
    const d = decision(env, s, reply(s, 'reserve', 'Done', env));
    await committed(port, writeOf('r-1', changeOf(s.version, { ...d, state: { ...d.state, pastPivot: true, updatedAt: 1 } })));
    const report = await port.rebuildInstance('i-1');
    t.equal(report.changed, true);
    t.same(report.differences.map((x) => x.path).sort(), [
      'row.updatedAt', 'snapshot.pastPivot', 'snapshot.updatedAt', 'state.pastPivot', 'state.updatedAt',
    ], 'the row, its state and the snapshot taken from it');
    t.match(report.differences.find((x) => x.path === 'state.pastPivot'), { stored: true, rebuilt: false });
    t.same(await port.getInstance('i-1'), d.state, 'the row is the replay of the journal again');
    t.same(await port.rebuild('i-1'), d.state, 'and so is the snapshot');
    t.same(await port.rebuildInstance('i-1'), { id: 'i-1', changed: false, differences: [] }, 'a second run changes nothing');
    await t.rejects(port.rebuildInstance('nope'), { code: 'SAGA_ERR_NOT_FOUND' });
  });

  t.test('journalInstanceIds pages through every instance with a journal, in id order', async (t) => {
    const port = await (await f.fresh()).open();
    t.teardown(() => port.close());
    const env = new TestEnv();
    for (const id of ['i-3', 'i-1', 'i-2']) await started(port, env, id);
    t.same(await port.journalInstanceIds(null, 2), ['i-1', 'i-2']);
    t.same(await port.journalInstanceIds('i-2', 2), ['i-3']);
    t.same(await port.journalInstanceIds('i-3', 2), []);
  });
}
