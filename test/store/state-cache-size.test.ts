import { join } from 'node:path';
import t from 'tap';
import { start, type InstanceState } from '../../engine/core/index.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { feed, persist, reply, saga, TestEnv } from './fixtures/saga.js';

/**
 * The states the SQLite store keeps in memory (engine/store/instances.ts) are bounded by their
 * estimated size as well as by their number: a flood of starts with 1 MB inputs once kept
 * 4,000 of them and ran the heap out. A state dropped from memory is read from the journal.
 */

const KiB = 1024;

/** Starts an instance whose input carries `bytes` characters, through the real core, and persists it. */
function startBig(store: Store, env: TestEnv, id: string, bytes: number): InstanceState {
  const d = start(saga, { id, input: { n: id, pad: 'x'.repeat(bytes) }, key: null, correlationId: `c-${id}`, event: null, causationId: `start-${id}` }, env);
  return persist(store, 0, d);
}

/** The characters of JSON of the instance's journal events after `seq`, as the journal wrote them. */
function journalSize(store: Store, id: string, seq = 0): number {
  return store.history(id, seq).reduce((n, e) => n + JSON.stringify(e.data).length, 0);
}

t.test('the states kept in memory stay within the size budget, oldest out first; a state dropped is read from the journal', async (t) => {
  const budget = 1024 * KiB;
  const store = openStore(join(t.testdir(), 's.db'), { stateCache: { count: 10_000, size: budget } });
  t.teardown(() => store.close());
  const env = new TestEnv();
  const saved: InstanceState[] = [];
  for (let i = 0; i < 12; i++) saved.push(startBig(store, env, `i-${i}`, 200 * KiB));
  const held = saved.filter((s) => store.getInstance(s.id) === s).map((s) => s.id);
  t.same(held, saved.slice(-5).map((s) => s.id), 'only the newest five are served from memory');
  t.equal(store.cacheUse().count, 5, 'five states of 200 KiB (and a few hundred characters of events) fit in 1 MiB');
  t.ok(store.cacheUse().size <= budget);
  for (const s of saved.slice(0, 7)) t.strictSame(store.getInstance(s.id), s, `${s.id}, dropped, is read back whole from the journal`);

  // Every instance takes a step, the dropped ones read back first (as after a restart, when
  // operators cancel or timers fire): the budget holds, and each step lands on the right state.
  const uses: { count: number; size: number }[] = [];
  const stepped = saved.map((s) => {
    const next = feed(store, env, s, reply(s, 'reserve', 'Done', env));
    uses.push(store.cacheUse());
    return next;
  });
  t.same(uses.filter((u) => u.size > budget), [], 'never over the budget while the dropped ones are saved again');
  for (const s of stepped) {
    t.equal(s.steps.reserve?.status, 'succeeded');
    t.strictSame(store.getInstance(s.id), s, `${s.id} after its step`);
  }
});

t.test('a state is estimated at its journal events\' JSON, the same whether it was in memory or read back', async (t) => {
  const file = join(t.testdir(), 'e.db');
  const env = new TestEnv();
  const first = openStore(file);
  const started = startBig(first, env, 'e', 50 * KiB);
  const s = feed(first, env, started, reply(started, 'reserve', 'Done', env));
  const estimate = first.cacheUse();
  t.same(estimate, { count: 1, size: journalSize(first, 'e') }, 'in memory: what the appends serialized');
  t.ok(estimate.size > 50 * KiB, 'the input is counted');
  first.close();

  // A fresh store has nothing in memory: the next save reads the sizes from the database.
  const again = openStore(file);
  t.teardown(() => again.close());
  feed(again, env, s, reply(s, 'charge', 'Done', env));
  t.same(again.cacheUse(), { count: 1, size: journalSize(again, 'e') }, 'read back: the events\' JSON as stored');
});

t.test('after a snapshot, a state is estimated at the snapshot\'s JSON and the events after it', async (t) => {
  const file = join(t.testdir(), 'n.db');
  const env = new TestEnv();
  let store = openStore(file, { snapshotEvery: 4 });
  t.teardown(() => store.close());
  let s = startBig(store, env, 'n', 10 * KiB);
  let snapshot: { version: number; size: number } | null = null;
  // The last reply (a retryable failure: the instance runs on) comes to a fresh store: the
  // state is read back, and its size from the database.
  for (const [step, outcome] of [['reserve', 'Done'], ['charge', 'Done'], ['ship', 'Busy']] as const) {
    if (step === 'ship') {
      store.close();
      store = openStore(file, { snapshotEvery: 4 });
    }
    s = feed(store, env, s, reply(s, step, outcome, env));
    // The store snapshots once `snapshotEvery` events have passed since the last snapshot.
    if (s.version - (snapshot?.version ?? 0) >= 4) snapshot = { version: s.version, size: JSON.stringify(s).length };
    const expected = snapshot === null ? journalSize(store, 'n') : snapshot.size + journalSize(store, 'n', snapshot.version);
    t.same(store.cacheUse(), { count: 1, size: expected }, `after ${step} (version ${s.version}, snapshot at ${snapshot?.version ?? 'none'})`);
  }
  t.equal(snapshot?.version, 4, 'the first step took a snapshot, the later ones none');
});

t.test('a state bigger than the whole budget is not kept; a finished one, or a rollback, takes its size along', async (t) => {
  const store = openStore(join(t.testdir(), 'b.db'), { stateCache: { count: 10_000, size: 100 * KiB } });
  t.teardown(() => store.close());
  const env = new TestEnv();
  const big = startBig(store, env, 'big', 200 * KiB);
  t.not(store.getInstance('big'), big, 'too big to keep: not served from memory');
  t.strictSame(store.getInstance('big'), big, 'but read whole from the journal');
  t.same(store.cacheUse(), { count: 0, size: 0 });

  let s = startBig(store, env, 'small', 1 * KiB);
  t.equal(store.cacheUse().count, 1);
  for (const step of ['reserve', 'charge', 'ship']) s = feed(store, env, s, reply(s, step, 'Done', env));
  t.equal(s.status, 'completed');
  t.same(store.cacheUse(), { count: 0, size: 0 }, 'a finished instance leaves with its size');

  startBig(store, env, 'kept', 1 * KiB);
  t.throws(() => store.tx(() => {
    startBig(store, env, 'rolled-back', 1 * KiB);
    throw new Error('input failed after saving');
  }), /input failed/);
  t.same(store.cacheUse(), { count: 0, size: 0 }, 'a rollback empties memory, sizes and all');
});
