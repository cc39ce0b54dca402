import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { TimerService } from '../../engine/runtime/timer-service.js';
import { silentLog } from '../../engine/log.js';
import type { TimerRow } from '../../engine/store/index.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { waitFor } from '../helpers/sagad.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * The timer service over a real store and engine, wired as the server wires it: the engine
 * pokes it with the earliest timer of each commit (DESIGN section 1, point 6: a timer fires
 * once due, overdue ones as soon as the service starts).
 */
const sagas = sagasOf(`
version: 1
sagas:
  - name: fast
    timeout: 1h
    steps:
      - name: call
        command: { subject: t.commands, type: Do, payload: {} }
        reply: { subject: t.events, success: [Done] }
        timeout: 50ms
        retry: { maxAttempts: 1 }
        compensate:
          command: { subject: t.commands, type: Undo, payload: {} }
          reply: { subject: t.events, success: [Undone] }
  - name: later
    timeout: 1h
    steps:
      - name: call
        command: { subject: t.commands, type: Do, payload: {} }
        reply: { subject: t.events, success: [Done] }
        timeout: 4s
        retry: { maxAttempts: 1 }
        compensate:
          command: { subject: t.commands, type: Undo, payload: {} }
          reply: { subject: t.events, success: [Undone] }
  - name: slow
    timeout: 2h
    steps:
      - name: call
        command: { subject: t.commands, type: Do, payload: {} }
        reply: { subject: t.events, success: [Done] }
        timeout: 1h
        retry: { maxAttempts: 1 }
        compensate:
          command: { subject: t.commands, type: Undo, payload: {} }
          reply: { subject: t.events, success: [Undone] }
`);

/** Timer settings as sagad's with SQLite: one process, so no polling beyond the minute. */
const OPTS = { pollMs: 60_000, claimMs: 30_000 };

function world(t: { testdir(): string; teardown(fn: () => unknown): void }) {
  const store = openStore(join(t.testdir(), 'timers.db'));
  const port = sqlitePort(store);
  const errors: unknown[] = [];
  const service = new TimerService(port, OPTS, (err) => errors.push(err));
  const engine = new Engine({ store: port, registry: new Registry(sagas), log: silentLog, timers: service });
  const start = () => service.start((row) => engine.fire(row));
  t.teardown(async () => { await service.stop(); store.close(); });
  return { store, engine, timers: { start, stop: () => service.stop() }, errors };
}

/** Timers already due now. */
const overdue = (store: Store) => store.dueTimers(Date.now(), 10_000).length;

t.test('timers that fell due while it was stopped fire as soon as it starts, 200 to a batch by default', async (t) => {
  const store = openStore(join(t.testdir(), 'timers.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  const batches: number[] = [];
  const counting = { ...port, claimDueTimers: async (now: number, limit: number, claimMs: number) => { const rows = await port.claimDueTimers(now, limit, claimMs); batches.push(rows.length); return rows; } };
  const engine = new Engine({ store: port, registry: new Registry(sagas), log: silentLog });
  const ids = (await Promise.all(Array.from({ length: 201 }, () => engine.start({ saga: 'fast', input: {} })))).map((s) => s.state.id);
  await waitFor(async () => overdue(store) === 201 || undefined, 10_000, { what: 'every attempt timeout to be due' });
  const errors: unknown[] = [];
  const service = new TimerService(counting, OPTS, (err) => errors.push(err));
  t.teardown(() => service.stop());
  service.start((row) => engine.fire(row));
  await waitFor(async () => overdue(store) === 0 || undefined, 20_000, { what: 'the overdue timers to fire' });
  const states = await Promise.all(ids.map((id) => engine.getInstance(id)));
  t.equal(states.filter((s) => s?.steps.call?.status === 'running').length, 0, 'every attempt timed out');
  t.equal(batches.find((n) => n > 0), 200, `the first batch is 200 of the 201 due (${batches.join(', ')})`);
  t.same(errors, []);
});

t.test('a timer earlier than the one it waits for wakes it: the engine pokes it from the commit', async (t) => {
  const { store, engine, timers, errors } = world(t);
  await engine.start({ saga: 'slow', input: {} });
  timers.start();
  // Armed for the slow saga's attempt timeout, an hour away. The fast one is due in 50 ms.
  const { state } = await engine.start({ saga: 'fast', input: {} });
  await waitFor(async () => (await engine.getInstance(state.id))?.steps.call?.status !== 'running' || undefined, 10_000, { what: 'the fast attempt to time out' });
  // What its timeout committed may arm more (the compensation's): they fire too, in the batches after it.
  await waitFor(async () => overdue(store) === 0 || undefined, 10_000, { what: 'nothing overdue' });
  t.equal(store.timerCount(), 3, 'the slow saga\'s two timers and the fast saga\'s deadline remain');
  t.same(errors, []);
});

t.test('stopped, it fires nothing: neither what was armed nor what it is poked with', async (t) => {
  const { store, engine, timers } = world(t);
  timers.start();
  await timers.stop();
  const { state } = await engine.start({ saga: 'fast', input: {} });
  await waitFor(async () => overdue(store) === 1 || undefined, 10_000, { what: 'the attempt timeout to be due' });
  // Nothing can be awaited for something that must not happen: give a running service ample
  // time (its wait for an overdue timer is 0 ms), then look.
  await delay(300);
  t.equal(overdue(store), 1, 'still due, not fired');
  t.equal((await engine.getInstance(state.id))?.steps.call?.status, 'running');
  timers.start();
  await waitFor(async () => overdue(store) === 0 || undefined, 10_000, { what: 'the timer to fire once started again' });
  t.pass('started again, it fired');
});

t.test('a failing batch is reported and the service keeps going', async (t) => {
  const store = openStore(join(t.testdir(), 'timers.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  const engine = new Engine({ store: port, registry: new Registry(sagas), log: silentLog });
  const errors: unknown[] = [];
  let failures = 1;
  const timers = new TimerService(port, OPTS, (err) => errors.push(err));
  t.teardown(() => timers.stop());
  await engine.start({ saga: 'fast', input: {} });
  await waitFor(async () => overdue(store) === 1 || undefined, 10_000, { what: 'the attempt timeout to be due' });
  // The first firing fails as a full disk would make it; the next one is the engine's.
  timers.start((row: TimerRow) => (failures-- > 0 ? Promise.reject(new Error('disk full')) : engine.fire(row)));
  await waitFor(async () => overdue(store) === 0 || undefined, 10_000, { what: 'the timer to fire after the failed batch' });
  t.match(errors, [{ message: 'disk full' }], 'the failure was reported once');
});

t.test('a timer another writer armed (no poke) is found by polling the store', async (t) => {
  const store = openStore(join(t.testdir(), 'timers.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  const errors: unknown[] = [];
  const service = new TimerService(port, { pollMs: 100, claimMs: 30_000 }, (err) => errors.push(err));
  t.teardown(() => service.stop());
  const here = new Engine({ store: port, registry: new Registry(sagas), log: silentLog, timers: service });
  service.start((row) => here.fire(row));
  // Another replica's engine over the same store: it tells this timer service nothing.
  const elsewhere = new Engine({ store: port, registry: new Registry(sagas), log: silentLog });
  const { state } = await elsewhere.start({ saga: 'fast', input: {} });
  await waitFor(async () => (await here.getInstance(state.id))?.steps.call?.status !== 'running' || undefined, 10_000, { what: 'the attempt timeout armed elsewhere to fire' });
  t.same(errors, []);
});

t.test('a store that cannot say when the next timer is due is reported, and asked again', async (t) => {
  const store = openStore(join(t.testdir(), 'timers.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  let failing = 1;
  // The store's own answer, but the first question fails as an unreachable database would.
  const flaky = { ...port, nextDueAt: () => (failing-- > 0 ? Promise.reject(new Error('database unreachable')) : port.nextDueAt()) };
  const errors: unknown[] = [];
  const service = new TimerService(flaky, { pollMs: 60_000, claimMs: 30_000 }, (err) => errors.push(err));
  t.teardown(() => service.stop());
  const engine = new Engine({ store: port, registry: new Registry(sagas), log: silentLog });
  const { state } = await engine.start({ saga: 'fast', input: {} });
  await waitFor(async () => overdue(store) === 1 || undefined, 10_000, { what: 'the attempt timeout to be due' });
  service.start((row) => engine.fire(row));
  // It looks again a second later (not after the minute of pollMs) and fires what is due.
  await waitFor(async () => (await engine.getInstance(state.id))?.steps.call?.status !== 'running' || undefined, 10_000, { what: 'the timer to fire after the failure' });
  t.equal(errors.length, 1, 'the failure reported');
  t.match(errors[0], { message: 'database unreachable' });
});

t.test('a batch is as large as asked: with batch 1, each due timer is fired in a batch of its own', async (t) => {
  const store = openStore(join(t.testdir(), 'timers.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  const batches: number[] = [];
  const counting = { ...port, claimDueTimers: async (now: number, limit: number, claimMs: number) => { const rows = await port.claimDueTimers(now, limit, claimMs); batches.push(rows.length); return rows; } };
  const engine = new Engine({ store: port, registry: new Registry(sagas), log: silentLog });
  for (let i = 0; i < 3; i++) await engine.start({ saga: 'fast', input: {} });
  await waitFor(async () => overdue(store) === 3 || undefined, 10_000, { what: 'three attempt timeouts to be due' });
  const service = new TimerService(counting, { pollMs: 60_000, claimMs: 30_000, batch: 1 }, (err) => t.fail(String(err)));
  t.teardown(() => service.stop());
  service.start((row) => engine.fire(row));
  await waitFor(async () => overdue(store) === 0 || undefined, 10_000, { what: 'the overdue timers to fire' });
  const fired = batches.filter((n) => n > 0);
  t.ok(fired.length >= 3, `three timers, three batches at least (${fired.length})`);
  t.ok(fired.every((n) => n === 1), `no batch above 1 (${fired.join(', ')})`);
});

t.test('a later timer does not put off the one it waits for', async (t) => {
  const { engine, timers, errors } = world(t);
  timers.start();
  const { state } = await engine.start({ saga: 'fast', input: {} });
  // Committed after the fast attempt's timeout was armed: it pokes with an hour from now.
  await engine.start({ saga: 'slow', input: {} });
  await waitFor(async () => (await engine.getInstance(state.id))?.steps.call?.status !== 'running' || undefined, 10_000, { what: 'the fast attempt to time out (not after the poll minute)' });
  t.same(errors, []);
});

t.test('a timer whose firing always fails is held back on its own: a timer due after it fires on time', async (t) => {
  const store = openStore(join(t.testdir(), 'timers.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  // The firing engine has not loaded \`fast\`, and the store keeps no source of it: firing a
  // timer of a \`fast\` instance fails every time (SAGA_ERR_DEFINITION_MISSING).
  const writer = new Engine({ store: port, registry: new Registry(sagas), log: silentLog });
  const firer = new Engine({ store: port, registry: new Registry(sagas.filter((s) => s.name !== 'fast')), log: silentLog });
  const poisoned = (await writer.start({ saga: 'fast', input: {} })).state.id;
  const { state } = await writer.start({ saga: 'later', input: {} });
  const dueAt = state.steps.call!.startedAt! + 4_000;
  const errors: unknown[] = [];
  const service = new TimerService(port, OPTS, (err) => errors.push(err));
  t.teardown(() => service.stop());
  let late: number | null = null;
  service.start((row) => {
    if (row.instanceId === state.id && row.data.kind === 'attempt_timeout') late = Date.now() - row.dueAt;
    return firer.fire(row);
  });
  await waitFor(async () => (await firer.getInstance(state.id))?.steps.call?.status !== 'running' || undefined, 10_000, { what: 'the later attempt to time out' });
  t.equal(store.timersOf(state.id).some((x) => x.dueAt === dueAt), false, 'its attempt timeout fired');
  t.ok(late !== null && late < 1_000, `handed to the engine ${String(late)} ms after it fell due (a pause of the whole service made it seconds late)`);
  t.ok(store.timersOf(poisoned).some((x) => x.data.kind === 'attempt_timeout'), 'the failing timer is still there, to be tried again');
  t.match(errors[0], { message: new RegExp(`^timer \\S+ of instance ${poisoned} failed \\(1 in a row; next try in 100 ms\\): .*neither loaded nor stored`), cause: { code: 'SAGA_ERR_DEFINITION_MISSING' } });
  // About six failures in the 4 s, each pause twice the last: the 1st, 2nd and 4th reported.
  const reported = errors.map((e) => /\((\d+) in a row; next try in (\d+) ms\)/.exec((e as Error).message)?.slice(1).map(Number));
  t.same(reported, [[1, 100], [2, 200], [4, 800]], 'its failures reported at the 1st, 2nd and 4th in a row, with the growing pause');
});
