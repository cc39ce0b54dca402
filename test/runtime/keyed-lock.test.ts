import t from 'tap';
import { KeyedLock } from '../../engine/runtime/keyed-lock.js';

/**
 * The per-instance lock of the engine: inputs for one instance run one at a time in arrival
 * order, inputs for others alongside. Each holder here waits on a gate the test opens, so the
 * order is decided by the test, not by timing.
 */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => { open = r; });
  return { open, opened };
}

/** Lets every pending promise callback run. */
const settle = () => new Promise((r) => setImmediate(r));

t.test('work for one key runs one at a time, in arrival order; the second learns it waited', async (t) => {
  const lock = new KeyedLock();
  const log: string[] = [];
  const g1 = gate();
  const first = lock.run(['a'], async (waited) => { log.push(`1 start waited=${waited}`); await g1.opened; log.push('1 end'); return 1; });
  const second = lock.run(['a'], async (waited) => { log.push(`2 start waited=${waited}`); return 2; });
  const third = lock.run(['a'], async (waited) => { log.push(`3 start waited=${waited}`); return 3; });
  await settle();
  t.same(log, ['1 start waited=false'], 'the later ones wait for the first');
  t.equal(lock.size, 1, 'one key in hand');
  g1.open();
  t.same(await Promise.all([first, second, third]), [1, 2, 3]);
  t.same(log, ['1 start waited=false', '1 end', '2 start waited=true', '3 start waited=true']);
  t.equal(lock.size, 0, 'the last holder cleared its key');
});

t.test('work for other keys runs alongside', async (t) => {
  const lock = new KeyedLock();
  const g = gate();
  const log: string[] = [];
  const a = lock.run(['a'], async (waited) => { log.push(`a waited=${waited}`); await g.opened; });
  const b = lock.run(['b'], async (waited) => { log.push(`b waited=${waited}`); });
  await b;
  t.same(log, ['a waited=false', 'b waited=false'], 'b ran while a held its key');
  t.equal(lock.size, 1, 'only a is in hand');
  g.open();
  await a;
  t.equal(lock.size, 0);
});

t.test('several keys are held together; a caller with an overlapping set waits for all it shares', async (t) => {
  const lock = new KeyedLock();
  const ga = gate();
  const gb = gate();
  const log: string[] = [];
  const holdA = lock.run(['a'], async () => { await ga.opened; log.push('a released'); });
  const holdB = lock.run(['b'], async () => { await gb.opened; log.push('b released'); });
  const both = lock.run(['b', 'a', 'a'], async (waited) => { log.push(`both waited=${waited}`); return 'ab'; });
  await settle();
  t.equal(lock.size, 2);
  ga.open();
  await holdA;
  await settle();
  t.same(log, ['a released'], 'still waiting for b');
  gb.open();
  t.equal(await both, 'ab');
  await holdB;
  t.same(log, ['a released', 'b released', 'both waited=true']);
  t.equal(lock.size, 0);
});

t.test('a holder that throws releases its keys; the next one runs and the error reaches its caller', async (t) => {
  const lock = new KeyedLock();
  const failing = lock.run(['a'], async () => { throw new Error('boom'); });
  const next = lock.run(['a'], async (waited) => `ran waited=${waited}`);
  await t.rejects(failing, { message: 'boom' });
  t.equal(await next, 'ran waited=true');
  t.equal(lock.size, 0);
});

t.test('free keys: the work starts in the same turn, before run returns', async (t) => {
  const lock = new KeyedLock();
  let started = false;
  const p = lock.run(['a', 'b'], async () => { started = true; });
  t.ok(started, 'no tick lost to waiting for nothing');
  await p;
});

t.test('no keys: runs at once, without waiting', async (t) => {
  const lock = new KeyedLock();
  t.equal(await lock.run([], async (waited) => waited), false);
  t.equal(lock.size, 0);
});

t.test('a key freed by its holder stays with the one queued after it: the size counts it until that one ends', async (t) => {
  const lock = new KeyedLock();
  const g1 = gate();
  const g2 = gate();
  const first = lock.run(['k'], async () => { await g1.opened; });
  const second = lock.run(['k'], async () => { await g2.opened; });
  g1.open();
  await first;
  t.equal(lock.size, 1, 'the queued holder keeps the key');
  g2.open();
  await second;
  t.equal(lock.size, 0);
});
