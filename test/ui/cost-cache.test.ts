/** The API's cache of costly reads: fresh by cost, stale while revalidating, shared only when costly. */
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { CostCache } from '../../engine/api/cost-cache.js';

/** A read that takes at least `ms` (a real wait: the cache measures real cost) and counts its runs. */
function read(ms: number) {
  let runs = 0;
  let last: Promise<unknown> = Promise.resolve();
  return {
    runs: () => runs,
    /** Settles when the latest run has. */
    last: () => last,
    fn: () => {
      const n = ++runs;
      const p = sleep(ms).then(() => n);
      last = p;
      return p;
    },
  };
}

t.test('a cheap read is never cached nor shared', async (t) => {
  const c = new CostCache<number>({ minCostMs: 1000 });
  const r = read(1);
  t.equal((await c.get('k', r.fn)).value, 1);
  t.equal((await c.get('k', r.fn)).value, 2);
  const both = await Promise.all([c.get('k', r.fn), c.get('k', r.fn)]);
  t.strictSame(both.map((x) => x.value).sort(), [3, 4], 'two callers, two reads');
});

t.test('a costly read is fresh for factor x cost (capped), then recomputed; callers share it', async (t) => {
  let clock = 1_000;
  const c = new CostCache<number>({ minCostMs: 5, factor: 10, maxFreshMs: 500, now: () => clock });
  const r = read(20);
  const a = await c.get('k', r.fn);
  t.equal(a.value, 1);
  t.equal(a.at, 1_000, 'as of when it started');
  clock += 150;
  t.equal((await c.get('k', r.fn)).value, 1, 'fresh: 150 ms < 10 x 20 ms');
  t.equal((await c.get('other', r.fn)).value, 2, 'keys are apart');
  clock += 600;
  const both = await Promise.all([c.get('k', r.fn), c.get('k', r.fn)]);
  t.strictSame(both.map((x) => x.value), [3, 3], 'past 500 ms (the cap) it is read again, once for both callers: it is known to be costly');
});

t.test('with staleMs, an old answer comes at once while one recomputation runs', async (t) => {
  let clock = 0;
  const c = new CostCache<number>({ minCostMs: 5, factor: 1, maxFreshMs: 10, staleMs: 1_000, now: () => clock });
  const r = read(20);
  t.equal((await c.get('k', r.fn)).value, 1);
  clock += 100;
  const stale = await c.get('k', r.fn);
  t.equal(stale.value, 1, 'stale, answered at once');
  t.equal(r.runs(), 2, 'a recomputation started');
  t.equal((await c.get('k', r.fn)).value, 1, 'still the old answer while it runs');
  t.equal(r.runs(), 2, 'and no second recomputation');
  await r.last();
  await Promise.resolve(); // the cache keeps the answer in a callback of the same promise
  t.equal((await c.get('k', r.fn)).value, 2, 'then the new one');
  clock += 5_000;
  t.equal((await c.get('k', r.fn)).value, 3, 'too old to serve: the caller waits for a fresh read');
});

t.test('a failed read is not kept', async (t) => {
  const c = new CostCache<number>({ minCostMs: 0 });
  await t.rejects(c.get('k', async () => {
    await sleep(2);
    throw new Error('down');
  }), /down/);
  t.equal((await c.get('k', async () => 7)).value, 7);
});
