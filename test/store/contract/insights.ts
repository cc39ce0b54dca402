/**
 * The store port's exact figures for the console, run against every adapter: instances per
 * definition version, and saga-time percentiles over a window of start times.
 */
import type { Test } from 'tap';
import { decide, isRejection, start, type CompiledSaga, type InstanceState, type SagaInput } from '../../../engine/core/index.js';
import type { StorePort } from '../../../engine/store/port.js';
import { changeOf, committed, reply, saga, TestEnv, writeOf, type PortFactory } from './writes.js';

const v2: CompiledSaga = { ...saga, hash: 'hash-2' };
const other: CompiledSaga = { ...saga, name: 'other', hash: 'hash-o' };

/** Drives instances of any definition through the real core, each act at a time the test sets. */
class Driver {
  readonly env = new TestEnv();
  private n = 0;
  constructor(private readonly port: StorePort) {}

  async start(def: CompiledSaga, at: number): Promise<InstanceState> {
    this.env.now = at;
    const id = `i-${++this.n}`;
    const d = start(def, { id, input: { n: id }, key: null, correlationId: `c-${id}`, event: null, causationId: `start-${id}` }, this.env);
    await committed(this.port, writeOf(`start-${id}`, changeOf(0, d)));
    return d.state;
  }

  async feed(def: CompiledSaga, s: InstanceState, at: number, input: (s: InstanceState) => SagaInput): Promise<InstanceState> {
    this.env.now = at;
    const d = decide(def, s, input(s), this.env);
    if (isRejection(d)) throw new Error(d.rejected.message);
    await committed(this.port, writeOf(`m-${s.id}-${s.version}`, changeOf(s.version, d)));
    return d.state;
  }

  /** Started at `at`, every step done, completed at `at + took`. */
  async completed(def: CompiledSaga, at: number, took: number): Promise<InstanceState> {
    let s = await this.start(def, at);
    s = await this.feed(def, s, at + 1, (x) => reply(x, 'reserve', 'Done', this.env));
    s = await this.feed(def, s, at + 2, (x) => reply(x, 'charge', 'Done', this.env));
    return this.feed(def, s, at + took, (x) => reply(x, 'ship', 'Done', this.env));
  }

  /** Started at `at`, charge refused, reserve undone, compensated at `at + took`. */
  async compensated(def: CompiledSaga, at: number, took: number): Promise<InstanceState> {
    let s = await this.start(def, at);
    s = await this.feed(def, s, at + 1, (x) => reply(x, 'reserve', 'Done', this.env));
    s = await this.feed(def, s, at + 2, (x) => reply(x, 'charge', 'Nope', this.env));
    return this.feed(def, s, at + took, (x) => reply(x, 'reserve', 'Undone', this.env));
  }
}

const T = 1_800_000_000_000;

/** Runs the insight contract against one adapter. */
export function insightsContract(t: Test, f: PortFactory): void {
  const opened = async (t: Test): Promise<StorePort> => {
    const port = await (await f.fresh()).open();
    t.teardown(() => port.close());
    return port;
  };

  t.test('definition versions: exact counts per hash and state, first and last start; gauges agree', async (t) => {
    const port = await opened(t);
    t.same(await port.definitionVersions('order'), [], 'no instance yet');
    const d = new Driver(port);
    await d.completed(saga, T + 1000, 50);
    await d.compensated(saga, T + 2000, 60);
    await d.start(saga, T + 3000);
    await d.start(v2, T + 4000);
    await d.start(v2, T + 5000);
    await d.start(other, T + 6000);
    const versions = await port.definitionVersions('order');
    t.same(versions, [
      { hash: 'hash-2', count: 2, byStatus: { running: 2 }, firstCreatedAt: T + 4000, lastCreatedAt: T + 5000 },
      { hash: 'hash-1', count: 3, byStatus: { running: 1, completed: 1, compensated: 1 }, firstCreatedAt: T + 1000, lastCreatedAt: T + 3000 },
    ], 'the newest version first; a state an instance left is not counted in it');
    t.same(await port.definitionVersions('other'), [{ hash: 'hash-o', count: 1, byStatus: { running: 1 }, firstCreatedAt: T + 6000, lastCreatedAt: T + 6000 }]);
    t.same(await port.definitionVersions('nope'), []);
    t.same((await port.gauges()).instances, [
      { saga: 'order', status: 'compensated', count: 1 }, { saga: 'order', status: 'completed', count: 1 }, { saga: 'order', status: 'running', count: 3 },
      { saga: 'other', status: 'running', count: 1 },
    ], 'counts by state over both versions');
  });

  t.test('a refused write changes no count', async (t) => {
    const port = await opened(t);
    const d = new Driver(port);
    const s = await d.feed(saga, await d.start(saga, T), T + 1, (x) => reply(x, 'reserve', 'Done', d.env));
    const decided = (type: string) => {
      const x = decide(saga, s, reply(s, 'charge', type, d.env), d.env);
      if (isRejection(x)) throw new Error(x.rejected.message);
      return changeOf(s.version, x);
    };
    const refused = decided('Nope');
    t.equal(refused.state.status, 'compensating', 'the refused write would have moved it to compensating');
    const busy = decided('Busy');
    await committed(port, writeOf('m-busy', busy));
    t.equal((await port.commit(writeOf('m-nope', refused))).status, 'conflict');
    t.equal((await port.commit(writeOf('m-busy', busy))).status, 'duplicate');
    t.same((await port.definitionVersions('order')).map((v) => [v.hash, v.count, v.byStatus]), [['hash-1', 1, { running: 1 }]]);
    t.same((await port.gauges()).instances, [{ saga: 'order', status: 'running', count: 1 }]);
  });

  t.test('saga durations: exact nearest-rank p50/p99 per saga and state, per saga, per state and overall, over a window of start times', async (t) => {
    const port = await opened(t);
    t.same(await port.sagaDurations(0), [], 'nothing finished yet');
    const d = new Driver(port);
    await d.completed(saga, T + 1000, 300);
    await d.completed(saga, T + 2000, 500);
    await d.compensated(saga, T + 3000, 700);
    await d.completed(v2, T + 4000, 100);
    await d.completed(other, T + 5000, 40);
    await d.start(saga, T + 6000); // running: not counted
    const all = await port.sagaDurations(0);
    t.same(all, [
      { saga: 'order', status: 'completed', count: 3, p50: 300, p99: 500 },
      { saga: 'order', status: 'compensated', count: 1, p50: 700, p99: 700 },
      { saga: 'order', status: null, count: 4, p50: 300, p99: 700 },
      { saga: 'other', status: 'completed', count: 1, p50: 40, p99: 40 },
      { saga: 'other', status: null, count: 1, p50: 40, p99: 40 },
      { saga: null, status: 'completed', count: 4, p50: 100, p99: 500 },
      { saga: null, status: 'compensated', count: 1, p50: 700, p99: 700 },
      { saga: null, status: null, count: 5, p50: 300, p99: 700 },
    ], 'both versions of order together; every group exact');
    const late = await port.sagaDurations(T + 2000);
    t.same(late.find((g) => g.saga === null && g.status === null), { saga: null, status: null, count: 4, p50: 100, p99: 700 },
      'since: instances created at or after it');
    t.same(late.find((g) => g.saga === 'order' && g.status === 'completed'), { saga: 'order', status: 'completed', count: 2, p50: 100, p99: 500 });
    t.same(await port.sagaDurations(T + 7000), [], 'a window with no finished instance');
  });

  t.test('saga durations: p99 of a hundred is the 99th smallest, p50 the 50th', async (t) => {
    const port = await opened(t);
    const d = new Driver(port);
    for (let i = 100; i >= 1; i--) await d.completed(saga, T + i * 1000, 10 * i);
    const overall = (await port.sagaDurations(0)).find((g) => g.saga === null && g.status === null);
    t.same(overall, { saga: null, status: null, count: 100, p50: 500, p99: 990 });
  });
}
