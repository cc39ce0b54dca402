/**
 * What early events count and what their dead letters keep, on a real SQLite file and a real
 * PostgreSQL: a kept event whose letter was parked before is forgotten without being counted a
 * second time; an early event's parked copy keeps the dead-letter queue under its cap as the
 * inbound park does; and an input that loses a race to another writer (a second engine on the
 * same store) and is decided again counts what it ignored and what it kept once, when its
 * write commits.
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Env } from '../../engine/core/index.js';
import { uuidv7 } from '../../engine/ids.js';
import { silentLog } from '../../engine/log.js';
import { deliveryId } from '../../engine/runtime/early-events.js';
import { Engine, type EngineDeps, type Incoming } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import type { DeadLetterInput } from '../../engine/store/index.js';
import { openStore } from '../../engine/store/index.js';
import type { StorePort } from '../../engine/store/port.js';
import { openPostgresStore } from '../../engine/store/postgres/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

// A wait that takes the update its instance wants: the same message is taken by one instance,
// ignored by another (`unmatched`) and kept by a third whose wait has not started.
const sagas = sagasOf(`
version: 1
sagas:
  - name: ship
    defaults: { timeout: 1h, retry: { maxAttempts: 2, initialInterval: 100ms } }
    steps:
      - name: reserve
        command: { subject: inventory.commands, type: Reserve }
        reply: { subject: inventory.events, success: [Reserved] }
        compensate:
          command: { subject: inventory.commands, type: Release }
          reply: { subject: inventory.events, success: [Released] }
      - name: await-update
        wait: { subject: shipping.updates, type: ShipmentUpdate, match: "{% payload.status = $input.want %}" }
        timeout: 1h
      - name: done
        pivot: true
        command: { subject: billing.commands, type: Bill }
        reply: { subject: billing.events, success: [Billed] }
        retry: { maxAttempts: unlimited, initialInterval: 100ms }
`);

const TTL = 1_000;

/** A fresh database for test `t`, and a way to open another port on it (one per engine, as replicas have). */
type Fresh = (t: Test) => Promise<() => Promise<StorePort>>;

/** An engine on `port`, on a clock the test moves: expiry without sleeping. */
function engineOn(port: StorePort, clock: { now: number }, over: Partial<EngineDeps> = {}): Engine {
  const env = (): Env => ({ now: clock.now, newId: () => uuidv7(), random: Math.random });
  return new Engine({ store: port, registry: new Registry(sagas), log: silentLog, env, earlyEventTtlMs: TTL, ...over });
}

/** A message as the inbound handler hands it over, its bytes included. */
function message(subject: string, eventType: string, correlationId: string, payload: Record<string, unknown>, causationId = '', eventId = uuidv7()): Incoming {
  const envelope = { eventId, eventType, aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId, causationId: causationId === '' ? null : causationId, payload };
  return {
    subject, eventId, eventType, correlationId, causationId, aggregateId: 'a', version: 1, payload, envelope,
    raw: { data: new TextEncoder().encode(JSON.stringify(envelope)), headers: { 'Nats-Msg-Id': eventId } },
  };
}

/** Starts a `ship` instance; `reserved`: its reservation answered, so its wait runs. */
async function ship(engine: Engine, correlationId: string, want: string, reserved: boolean): Promise<string> {
  const { state } = await engine.start({ saga: 'ship', input: { want }, correlationId });
  if (reserved) {
    const command = state.steps.reserve?.awaiting;
    if (command === null || command === undefined) throw new Error('reserve awaits nothing');
    await engine.receive(message('inventory.events', 'Reserved', correlationId, {}, command));
  }
  return state.id;
}

/** The value of one series of the engine's metrics; 0 when it has none. */
async function value(engine: Engine, series: string): Promise<number> {
  const line = (await engine.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const letter = (reason: string): DeadLetterInput => ({ subject: 'other.events', reason, headers: {}, data: new Uint8Array([1, 2, 3]), deliveryCount: 1, at: Date.now() });

async function scenarios(t: Test, fresh: Fresh): Promise<void> {
  t.test('a kept event whose letter was parked before is forgotten at its expiry, and not counted again', async (t) => {
    const port = await (await fresh(t))();
    const clock = { now: Date.now() };
    const engine = engineOn(port, clock);
    const id = await ship(engine, 'c-1', 'delivered', false);
    t.equal(await engine.receive(message('shipping.updates', 'ShipmentUpdate', 'c-1', { status: 'delivered' }, '', 'up-1')), 'early', 'its wait has not started');
    await engine.settled();
    t.same((await port.earlyEventsOf(id)).map((e) => e.eventId), ['up-1'], 'kept');
    // What a repeat leaves: the copy parked under its delivery id while the instance kept its
    // maximum, then kept by the message's redelivery once it no longer did.
    t.not(await port.park(letter('parked before'), `dead-letter/${deliveryId(id, 'up-1')}`), null, 'its letter parked');

    clock.now += TTL + 1;
    t.equal(await engine.settleEarlyEvents(clock.now), 1, 'the sweep handled the expired event');
    await engine.settled();
    t.same(await port.earlyEventsOf(id), [], 'forgotten');
    t.same((await port.listDead()).items.map((l) => l.reason), ['parked before'], 'one letter for it, the one parked before');
    t.equal(await value(engine, 'sagad_early_events_total{outcome="dead_lettered"}'), 0, 'no early event counted dead-lettered');
    t.equal(await value(engine, 'sagad_dead_letters_total{reason="early_expired"}'), 0, 'nor a dead letter');
  });

  t.test('an expired early event\'s parked copy trims the dead-letter queue to its cap', async (t) => {
    const port = await (await fresh(t))();
    const clock = { now: Date.now() };
    const engine = engineOn(port, clock, { dlqCap: { maxRows: 3, maxBytes: 1_048_576 } });
    for (let i = 0; i < 4; i++) await port.park(letter(`old-${i}`));
    const id = await ship(engine, 'c-2', 'delivered', false);
    await engine.receive(message('shipping.updates', 'ShipmentUpdate', 'c-2', { status: 'delivered' }, '', 'up-2'));
    clock.now += TTL + 1;
    await engine.settleEarlyEvents(clock.now);
    await engine.settled();
    t.same(await port.earlyEventsOf(id), [], 'dead-lettered');
    const reasons = (await port.listDead()).items.map((l) => l.reason);
    t.equal(reasons.length, 2, 'five letters over a cap of three: trimmed to nine tenths of it');
    t.match(reasons[0], /^ShipmentUpdate arrived before a wait step of instance .* SAGA_EARLY_EVENT_TTL \(1000 ms\)$/, 'the newest, its own, kept');
    t.equal(reasons[1], 'old-3', 'and the newest before it');
    t.equal(await value(engine, 'sagad_dead_letters_dropped_total'), 3, 'the dropped letters counted');
    t.equal(await value(engine, 'sagad_dead_letters_total{reason="early_expired"}'), 1, 'the letter counted');
  });

  t.test('the copy parked for an instance that keeps its maximum trims the dead-letter queue to its cap', async (t) => {
    const port = await (await fresh(t))();
    const clock = { now: Date.now() };
    const engine = engineOn(port, clock, { dlqCap: { maxRows: 3, maxBytes: 1_048_576 } });
    for (let i = 0; i < 3; i++) await port.park(letter(`old-${i}`));
    const full = await ship(engine, 'c-3', 'delivered', false);
    for (let i = 0; i < 100; i++) {
      const m = message('shipping.updates', 'ShipmentUpdate', 'c-3', { status: 'in_transit' }, '', `kept-${i}`);
      await port.keepEarlyEvent({
        instanceId: full, eventId: m.eventId, subject: m.subject, type: m.eventType, keptAt: clock.now, expiresAt: clock.now + TTL,
        headers: m.raw?.headers ?? {}, data: m.raw?.data ?? new Uint8Array(),
      }, 100);
    }
    t.equal(await engine.receive(message('shipping.updates', 'ShipmentUpdate', 'c-3', { status: 'delivered' }, '', 'up-3')), 'early', 'its copy dead-lettered');
    const reasons = (await port.listDead()).items.map((l) => l.reason);
    t.equal(reasons.length, 2, 'four letters over a cap of three: trimmed');
    t.equal(reasons[0], `ShipmentUpdate arrived before the wait step of instance ${full} started, and the instance already keeps 100 such events`, 'its own kept');
    t.equal(await value(engine, 'sagad_dead_letters_dropped_total'), 2, 'the dropped letters counted');
    t.equal(await value(engine, 'sagad_dead_letters_total{reason="early_full"}'), 1, 'the letter counted');
  });

  t.test('an input decided again after losing its race counts what it ignored and kept once, when its write commits', async (t) => {
    const ports = await fresh(t);
    const clock = { now: Date.now() };
    const other = engineOn(await ports(), clock);
    let raced = false;
    let y = '';
    const port = await ports();
    const engine = engineOn({
      ...port,
      // The message's first commit: another replica (its own engine and connection) cancels Y first.
      commit: async (w) => {
        if (w.messageId === 'up-4' && !raced) {
          raced = true;
          await other.cancel(y, 'raced');
        }
        return port.commit(w);
      },
    }, clock);
    const x = await ship(engine, 'c-4', 'delivered', true);
    y = await ship(engine, 'c-4', 'in_transit', true);
    const k = await ship(engine, 'c-4', 'in_transit', false);
    // X's wait does not take it, Y's does, K's has not started: K keeps it.
    t.equal(await engine.receive(message('shipping.updates', 'ShipmentUpdate', 'c-4', { status: 'in_transit' }, '', 'up-4')), 'early', 'kept by K');
    await engine.settled();
    t.ok(raced, 'the other replica wrote first');
    t.equal(await value(engine, 'sagad_write_conflicts_total'), 1, 'the input lost one race and was decided again');
    t.equal((await port.getInstance(y))?.status, 'compensating', 'Y was cancelled: the second decision left it alone');
    t.equal((await port.getInstance(x))?.steps['await-update']?.status, 'running', 'X still waits');
    t.same((await port.earlyEventsOf(k)).map((e) => e.eventId), ['up-4'], 'K keeps it, once');
    t.equal(await value(engine, 'sagad_inputs_ignored_total{reason="unmatched"}'), 1, "X's ignored decision counted once");
    t.equal(await value(engine, 'sagad_early_events_total{outcome="kept"}'), 1, "K's keep counted once");
  });
}

t.test('sqlite', async (t) => {
  await scenarios(t, async (t) => {
    const store = openStore(join(t.testdir(), 'sagad.db'));
    t.teardown(() => store.close());
    return async () => sqlitePort(store);
  });
});

t.test('postgres', async (t) => {
  const server: PostgresServer = await startPostgres();
  t.teardown(() => server.stop());
  await scenarios(t, async (t) => {
    const url = await server.createDatabase();
    return async () => {
      const port = await openPostgresStore(url);
      t.teardown(() => port.close());
      return port;
    };
  });
});
