import type { Test } from 'tap';
import type { InputWrite, StorePort } from '../../../engine/store/port.js';
import { changeOf, committed, decision, reply, started, startDecision, TestEnv, writeOf, type PortFactory } from './writes.js';

async function opened(t: Test, f: PortFactory): Promise<StorePort> {
  const port = await (await f.fresh()).open();
  t.teardown(() => port.close());
  return port;
}

/** What a refused write could have left behind, across the store. */
async function footprint(port: StorePort, ids: readonly string[]) {
  const g = await port.gauges();
  return {
    states: await Promise.all(ids.map((id) => port.getInstance(id))),
    journals: await Promise.all(ids.map(async (id) => (await port.history(id)).length)),
    backlog: g.outboxBacklog, timers: g.timersPending, instances: g.instances.reduce((n, r) => n + r.count, 0),
  };
}

/**
 * The versions of the instances a write read without changing them (`InputWrite.reads`, what a
 * link of a parent and its child saga found with nothing to do): checked as a changed
 * instance's expected version is, so that two writes that each read the other's instance
 * before either wrote cannot both commit.
 */
export function readsContract(t: Test, f: PortFactory): void {
  t.test('reads: a write that read an instance at a version it no longer has is a conflict naming it, and writes nothing', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    const a = await started(port, env, 'i-a');
    const b = await started(port, env, 'i-b');
    const b1 = decision(env, b, reply(b, 'reserve', 'Done', env));
    await committed(port, writeOf('m-b', changeOf(b.version, b1)));
    const a1 = decision(env, a, reply(a, 'reserve', 'Done', env));
    const before = await footprint(port, ['i-a', 'i-b', 'i-c']);
    const stale: InputWrite = {
      ...writeOf('m-a', changeOf(a.version, a1)), reads: [{ instanceId: 'i-b', version: b.version }],
    };
    t.same(await port.commit(stale), { status: 'conflict', instanceId: 'i-b' });
    // A write that would also start an instance leaves it out too.
    const withStart: InputWrite = { ...stale, changes: [...stale.changes, changeOf(0, startDecision(env, 'i-c'))] };
    t.same(await port.commit(withStart), { status: 'conflict', instanceId: 'i-b' });
    t.same(await footprint(port, ['i-a', 'i-b', 'i-c']), before, 'no journal, state, outbox row, timer or instance written');
    // The message was not remembered as processed: decided on what is there now, it commits.
    await committed(port, { ...stale, reads: [{ instanceId: 'i-b', version: b1.state.version }] });
    t.same(await port.getInstance('i-a'), a1.state);
    t.same(await port.getInstance('i-b'), b1.state, 'a read instance is left as it was');
  });

  t.test('reads: an instance read but no longer in the store is a conflict', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    const a = await started(port, env, 'i-a');
    const a1 = decision(env, a, reply(a, 'reserve', 'Done', env));
    t.same(await port.commit({ ...writeOf('m-a', changeOf(a.version, a1)), reads: [{ instanceId: 'i-gone', version: 3 }] }),
      { status: 'conflict', instanceId: 'i-gone' });
    t.same(await port.getInstance('i-a'), a);
  });

  t.test('reads: two writes committed together, each changing one instance and reading the other as it was: one commits, the other is a conflict', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    const a = await started(port, env, 'i-a');
    const b = await started(port, env, 'i-b');
    const a1 = decision(env, a, reply(a, 'reserve', 'Done', env));
    const b1 = decision(env, b, reply(b, 'reserve', 'Done', env));
    // Queued in one turn: with group commit they may share a transaction (or a batch).
    const outcomes = await Promise.all([
      port.commit({ ...writeOf('m-a', changeOf(a.version, a1)), reads: [{ instanceId: 'i-b', version: b.version }] }),
      port.commit({ ...writeOf('m-b', changeOf(b.version, b1)), reads: [{ instanceId: 'i-a', version: a.version }] }),
    ]);
    t.same(outcomes, [{ status: 'committed', outbox: outcomes[0]?.status === 'committed' ? outcomes[0].outbox : [] }, { status: 'conflict', instanceId: 'i-a' }]);
    t.same(await port.getInstance('i-a'), a1.state);
    t.same(await port.getInstance('i-b'), b, 'the refused write changed nothing');
  });

  t.test('reads: a read at the version the instance has commits, as often as it is read', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    const a = await started(port, env, 'i-a');
    const b = await started(port, env, 'i-b');
    const a1 = decision(env, a, reply(a, 'reserve', 'Done', env));
    const a2 = decision(env, a1.state, reply(a1.state, 'charge', 'Done', env));
    const outcomes = await Promise.all([
      port.commit({ ...writeOf('m-1', changeOf(a.version, a1)), reads: [{ instanceId: 'i-b', version: b.version }] }),
      port.commit({ ...writeOf('m-2', changeOf(a1.state.version, a2)), reads: [{ instanceId: 'i-b', version: b.version }] }),
    ]);
    t.same(outcomes.map((o) => o.status), ['committed', 'committed']);
    t.same(await port.getInstance('i-a'), a2.state);
  });
}
