import type { Test } from 'tap';
import type { InstanceState } from '../../../engine/core/index.js';
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
