import { join } from 'node:path';
import t, { type Test } from 'tap';
import { uuidv7 } from '../../engine/ids.js';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { TimerService } from '../../engine/runtime/timer-service.js';
import { openStore, type TimerRow } from '../../engine/store/index.js';
import type { StorePort } from '../../engine/store/port.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import type { TimerSweep } from '../../engine/store/timers.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * Failing timers do not starve healthy ones (the timer service's held timers): with a real
 * SQLite store, which hands a due row out until it fires, the service reads on past the rows
 * it holds back instead of asking for the earliest due rows, the held ones, every time.
 */
const sagas = sagasOf(`
version: 1
sagas:
  - name: old
    steps:
      - name: call
        pivot: true
        command: { subject: a.commands, type: A, payload: {} }
        reply: { subject: a.events, success: [Done] }
        timeout: 1s
        retry: { maxAttempts: unlimited }
  - name: healthy
    steps:
      - name: call
        pivot: true
        command: { subject: b.commands, type: B, payload: {} }
        reply: { subject: b.events, success: [Done] }
        timeout: 1s
        retry: { maxAttempts: unlimited }
`);

/** More failing timers than the service ever asked for in one batch before (200 plus 1,000 held). */
const FAILING = 1_300;
const BATCH = 200;
/** Pages a round reads at most (the service's MAX_PAGES). */
const MAX_PAGES = 10;

/** Resolves with `p`, or rejects once `ms` passed: a bound on how long a test waits for what must happen, not a wait for it. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const at = (ms: number) => () => ({ now: Date.now() + ms, newId: () => uuidv7(), random: Math.random });

/** The most pages read in one round: the runs of pages between firings and questions of the next due time. */
const mostPages = (log: readonly string[]): number =>
  Math.max(...log.join(' ').split(/fire|next/).map((run) => run.split(' ').filter((x) => x === 'page').length));

/** The firing process lost `old` (it keeps no source of it): firing its timers fails every time with SAGA_ERR_DEFINITION_MISSING. */
const firingSagas = sagas.filter((s) => s.name !== 'old');

/**
 * A real SQLite store where, a minute ago, FAILING instances of `old` armed their attempt
 * timeouts, and a timer service over it whose every question to the store is logged: a run of
 * pages, then the rows it fires or, when it fires none, the question of when the next is due.
 */
async function world(t: Test) {
  const store = openStore(join(t.testdir(), 'timers.db'));
  const port = sqlitePort(store);
  t.teardown(() => store.close());
  const writer = new Engine({ store: port, registry: new Registry(sagas), log: silentLog, env: at(-60_000) });
  const poisoned = new Set<string>();
  for (let i = 0; i < FAILING; i += 100) {
    const starts = Array.from({ length: Math.min(100, FAILING - i) }, () => writer.start({ saga: 'old', input: {} }));
    for (const s of await Promise.all(starts)) poisoned.add(s.state.id);
  }
  // Half a minute ago: armed after every failing timer, and due after them.
  const late = new Engine({ store: port, registry: new Registry(sagas), log: silentLog, env: at(-30_000) });
  const log: ('page' | 'fire' | 'next')[] = [];
  const limits: number[] = [];
  // A round that read pages and fired nothing asks when the next timer is due. Such a round read
  // on to the last due row, so the sweep starts over: after two in a row every due row is held.
  let onIdle: (() => void) | null = null;
  const observed: Pick<StorePort, 'nextDueAt' | 'claimDueTimers'> = {
    nextDueAt: () => {
      const last = log.lastIndexOf('next');
      const rounds = [log.slice(log.lastIndexOf('next', last - 1) + 1, last), log.slice(last + 1)];
      if (last >= 0 && rounds.every((r) => r.includes('page') && !r.includes('fire'))) onIdle?.();
      log.push('next');
      return port.nextDueAt();
    },
    claimDueTimers: (now: number, limit: number, claimMs: number, sweep?: TimerSweep) => {
      log.push('page');
      limits.push(limit);
      return port.claimDueTimers(now, limit, claimMs, sweep);
    },
  };
  const errors: unknown[] = [];
  // The service's clock, held still on demand: a pause that has not ended then never ends.
  let stoppedAt: number | null = null;
  const clock = () => stoppedAt ?? Date.now();
  const service = new TimerService(observed, { pollMs: 60_000, claimMs: 30_000, batch: BATCH, clock }, (err) => errors.push(err));
  t.teardown(() => service.stop());

  // Events to await: a failing timer handed over for the nth time; an instance's timer fired.
  const tries = new Map<string, number>();
  const triedTimes = new Map<number, (id: string) => void>();
  const firedOf = new Map<string, (row: TimerRow) => void>();
  const start = (failing: (row: TimerRow) => Promise<void>, healthy: (row: TimerRow) => Promise<void>) => service.start(async (row) => {
    log.push('fire');
    const n = (tries.get(row.instanceId) ?? 0) + 1;
    tries.set(row.instanceId, n);
    if (poisoned.has(row.instanceId)) {
      triedTimes.get(n)?.(row.instanceId);
      return failing(row);
    }
    await healthy(row);
    firedOf.get(row.instanceId)?.(row);
  });
  return {
    store, poisoned, late, log, limits, errors, tries, start,
    tried: (n: number) => new Promise<string>((resolve) => triedTimes.set(n, resolve)),
    idle: () => new Promise<void>((resolve) => { onIdle = resolve; }),
    stopClock: (): number => {
      stoppedAt = Date.now();
      return stoppedAt;
    },
    fired: (id: string) => new Promise<TimerRow>((resolve) => firedOf.set(id, resolve)),
  };
}

t.test(`${FAILING} timers that always fail, due before a healthy one, do not keep it from firing; they are tried again once the sweep starts over`, async (t) => {
  const w = await world(t);
  const healthy = (await w.late.start({ saga: 'healthy', input: {} })).state.id;
  t.equal(w.store.dueTimers(Date.now(), 10_000).length, FAILING + 1, 'every attempt timeout is due');
  t.equal(w.store.dueTimers(Date.now(), 10_000).at(-1)?.instanceId, healthy, 'the healthy one last');
  const firer = new Engine({ store: sqlitePort(w.store), registry: new Registry(firingSagas), log: silentLog });
  const healthyFired = w.fired(healthy);
  const poisonedAgain = w.tried(2);
  w.start((row) => firer.fire(row), (row) => firer.fire(row));

  const row = await within(healthyFired, 15_000, 'the healthy timer to fire');
  t.equal(row.data.kind, 'attempt_timeout', 'the healthy attempt timeout fired');
  t.not((await firer.getInstance(healthy))?.steps.call?.status, 'running', 'its attempt timed out');
  t.equal(w.store.timersOf(healthy).some((x) => x.dueAt === row.dueAt), false, 'its timer consumed');
  const before = [...w.tries].filter(([id]) => w.poisoned.has(id));
  t.equal(before.length, FAILING, 'every failing timer was tried before it');
  t.ok(before.every(([, n]) => n === 1), 'each once: none was tried again while it waited');
  t.ok(w.errors.length > 0, 'the failures reported');
  t.match(w.errors[0], { cause: { code: 'SAGA_ERR_DEFINITION_MISSING' } });
  // Bounded work a round, however many timers are held.
  t.ok(w.limits.every((n) => n <= BATCH), `no page over a batch (largest ${Math.max(...w.limits)})`);
  t.ok(mostPages(w.log) <= MAX_PAGES, `at most ${MAX_PAGES} pages a round (${mostPages(w.log)})`);

  // Held, not dropped: once the sweep has passed them all it starts over, and a failing timer
  // whose pause ended is tried again.
  const again = await within(poisonedAgain, 15_000, 'a failing timer to be tried again');
  t.ok(w.poisoned.has(again), 'a failing timer tried a second time');
  t.ok(w.store.timersOf(again).some((x) => x.data.kind === 'attempt_timeout'), 'still there, to be tried again');
});

t.test(`a timer armed behind ${FAILING} held ones is found by a round that reads on past them, page after page`, async (t) => {
  const w = await world(t);
  const firer = new Engine({ store: sqlitePort(w.store), registry: new Registry(firingSagas), log: silentLog });
  // Failing at once (as the engine fails them, without its cost). Once the failing timers were
  // tried a few times the service's clock stops: a timer failing after that is held for good, so
  // the rounds soon find every due row held, however slowly the machine runs the passes.
  const triedAgain = w.tried(3);
  w.start(() => Promise.reject(new Error('definition neither loaded nor stored')), (row) => firer.fire(row));
  await within(triedAgain, 60_000, 'a failing timer to be tried a third time');
  const stopped = w.stopClock();
  await within(w.idle(), 60_000, 'two rounds in a row to find every failing timer held');
  const from = w.log.length;
  const fired = w.fired('healthy-1');
  // Armed after every failing timer and due before the stopped clock, however long the rounds took.
  const late = new Engine({ store: sqlitePort(w.store), registry: new Registry(sagas), log: silentLog, env: () => ({ now: stopped - 30_000, newId: () => uuidv7(), random: Math.random }) });
  await late.start({ saga: 'healthy', input: {}, id: 'healthy-1' });
  const row = await within(fired, 15_000, 'the healthy timer to fire');
  t.equal(row.data.kind, 'attempt_timeout', 'the healthy timer fired');
  const pages = mostPages(w.log.slice(from));
  t.ok(pages >= Math.ceil(FAILING / BATCH), `a round read on past the held rows, page after page (${pages} pages)`);
  t.ok(mostPages(w.log) <= MAX_PAGES && w.limits.every((n) => n <= BATCH), `at most ${MAX_PAGES} pages of a batch a round`);
});
