import type { Test } from 'tap';
import type { StorePort } from '../../../engine/store/port.js';
import type { TimerRow, TimerSweep } from '../../../engine/store/timers.js';
import { started, TestEnv, type PortFactory } from './writes.js';

async function opened(t: Test, f: PortFactory): Promise<StorePort> {
  const port = await (await f.fresh()).open();
  t.teardown(() => port.close());
  return port;
}

const keyOf = (r: TimerRow): string => `${r.instanceId}/${r.timerId}@${r.dueAt}`;

/** Every page of one sweep from the start, until the store says none was left; each page checked against `limit`. */
async function sweepAll(t: Test, port: StorePort, now: number, limit: number): Promise<TimerRow[][]> {
  const sweep: TimerSweep = { after: null };
  const pages: TimerRow[][] = [];
  for (let i = 0; i < 100; i++) {
    const page = await port.claimDueTimers(now, limit, 60_000, sweep);
    pages.push(page);
    // An instance's due timers may come whole (SQLite): over `limit` only when it alone has more.
    if (page.length > limit && new Set(page.map((r) => r.instanceId)).size > 1) {
      t.fail(`a page of ${page.length} over the limit of ${limit}, of several instances`);
    }
    if (page.some((r) => r.dueAt > now)) t.fail('a timer not yet due');
    if (sweep.after === null) return pages;
  }
  t.fail('the sweep never ended');
  return pages;
}

/**
 * A sweep through the due timers (`claimDueTimers` with a cursor), on every adapter: what lets
 * the timer service read on past timers it holds back, however many, instead of being handed
 * the earliest due rows, the held ones, every time.
 */
export function timerSweepContract(t: Test, f: PortFactory): void {
  t.test('timers: a sweep reads each due timer once, page after page, also the later timers of an instance read before', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    // Each instance has an attempt timeout (1 s) and a deadline (60 s): by the time every
    // deadline is due, the first instance's deadline comes after the others' attempt timeouts.
    const ids = ['i-0', 'i-1', 'i-2', 'i-3', 'i-4', 'i-5', 'i-6'];
    for (const id of ids) {
      env.now += 10;
      await started(port, env, id);
    }
    // Three more at the same instant, so that ties on the due time are cut by the instance id,
    // one of them past ASCII (byte order and a locale's order disagree on it).
    for (const id of ['t-Z', 't-z', 't-é']) await started(port, env, id);
    const all = (await Promise.all([...ids, 't-Z', 't-z', 't-é'].map((id) => port.timersOf(id)))).flat();
    t.equal(all.length, 20, 'two timers each');
    const now = Math.max(...all.map((r) => r.dueAt));
    const earliest = Math.min(...all.map((r) => r.dueAt));

    const pages = await sweepAll(t, port, now, 3);
    const read = pages.flat().map(keyOf);
    t.same([...read].sort(), all.map(keyOf).sort(), 'every due timer, once');
    t.ok(pages.length >= 7, `page after page (${pages.length})`);
    t.ok(pages[0]?.some((r) => r.dueAt === earliest), 'from the earliest');
    for (const page of pages) t.same(page.map((r) => r.dueAt), [...page].map((r) => r.dueAt).sort((a, b) => a - b), 'a page earliest first');

    // Nothing was fired: a sweep from the start again hands them out again, unless claimed.
    const again = (await sweepAll(t, port, now, 50)).flat();
    t.equal(again.length, f.leases ? 0 : 20, f.leases ? 'claimed by the first sweep' : 'a store without claims hands them out again');
  });

  t.test('timers: a sweep reads on past the rows it returned, though they are still due; only due ones', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    for (const id of ['a', 'b', 'c', 'd']) {
      env.now += 10;
      await started(port, env, id);
    }
    const attempts = (await Promise.all(['a', 'b', 'c', 'd'].map((id) => port.timersOf(id)))).flat().filter((r) => r.data.kind === 'attempt_timeout');
    const now = Math.max(...attempts.map((r) => r.dueAt));
    const sweep: TimerSweep = { after: null };
    const first = await port.claimDueTimers(now, 2, 60_000, sweep);
    t.same(first.map((r) => r.instanceId), ['a', 'b'], 'the earliest first');
    t.not(sweep.after, null, 'more are due behind them');
    const second = await port.claimDueTimers(now, 2, 60_000, sweep);
    t.same(second.map((r) => r.instanceId), ['c', 'd'], 'then the ones behind them, not the first two again');
    t.same(second.map((r) => r.data.kind), ['attempt_timeout', 'attempt_timeout'], 'no deadline: not due');
    const third = await port.claimDueTimers(now, 2, 60_000, sweep);
    t.same(third, [], 'none left');
    t.equal(sweep.after, null, 'the end: the next page starts over');
    if (!f.leases) t.same((await port.claimDueTimers(now, 2, 60_000, sweep)).map((r) => r.instanceId), ['a', 'b'], 'from the earliest again');
  });
}
