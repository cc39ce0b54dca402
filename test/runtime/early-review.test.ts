import t from 'tap';
import type { Env } from '../../engine/core/index.js';
import { uuidv7 } from '../../engine/ids.js';
import { Engine, type Incoming } from '../../engine/runtime/engine.js';
import type { Store } from '../../engine/store/index.js';
import type { StorePort } from '../../engine/store/port.js';
import { parseEnvelope } from '../../engine/transport/envelope.js';
import { rig } from './engine-rig.js';

/**
 * Early events (issue 12), as a review found them wanting, on a real SQLite file: an instance at
 * its cap of kept events no longer dead-letters the whole message; the sweep pages past kept
 * events that a running wait does not take; an expired kept event is delivered or
 * dead-lettered, never both. (The PostgreSQL replica without the definition: early-postgres.)
 */
const yaml = `
version: 1
sagas:
  - name: approval
    defaults: { timeout: 1h, retry: { maxAttempts: 2, initialInterval: 100ms } }
    steps:
      - name: reserve
        command: { subject: inventory.commands, type: Reserve }
        reply: { subject: inventory.events, success: [Reserved] }
        compensate:
          command: { subject: inventory.commands, type: Release }
          reply: { subject: inventory.events, success: [Released] }
      - name: await-approval
        wait: { subject: orders.approvals, type: OrderApproved }
        timeout: 1h
      - name: ship
        pivot: true
        command: { subject: shipping.commands, type: Ship }
        reply: { subject: shipping.events, success: [Shipped] }
        retry: { maxAttempts: unlimited, initialInterval: 100ms }
  - name: audit
    start: { on: { subject: orders.approvals, type: OrderApproved } }
    defaults: { timeout: 1h }
    steps:
      - name: log
        pivot: true
        command: { subject: audit.commands, type: Log }
        reply: { subject: audit.events, success: [Logged] }
        retry: { maxAttempts: unlimited, initialInterval: 100ms }
`;

/** The id of the latest command sent on `subject` by instance `id`, from the outbox. */
function commandId(store: Store, subject: string, id: string): string {
  const row = store.unsent(100_000).filter((r) => r.subject === subject && r.headers['Saga-Id'] === id).at(-1);
  const env = row === undefined ? null : parseEnvelope(row.data);
  if (env === null || !env.ok) throw new Error(`no command on ${subject} from ${id}`);
  return env.envelope.eventId;
}

/** An envelope's bytes, as a kept event holds them. */
function bytes(eventId: string, eventType: string, correlationId: string, payload: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({
    eventId, eventType, aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId, causationId: null, payload,
  }));
}

t.test('an instance at its cap of kept events has its copy dead-lettered; the message goes on to the others', async (t) => {
  let failWrite = true;
  const { store, engine, deliver } = rig(t, yaml, {
    // The message's first write fails (a store hiccup): its redelivery must not park Z's copy twice.
    wrapStore: (port: StorePort): StorePort => ({ ...port, commit: async (w) => {
      if (w.messageId === 'ap-cap' && failWrite) {
        failWrite = false;
        throw new Error('injected: the write failed');
      }
      return port.commit(w);
    } }),
  });
  const z = (await engine.start({ saga: 'approval', input: {}, correlationId: 'c-cap' })).state.id;
  const now = Date.now();
  for (let i = 0; i < 100; i++) {
    store.keepEarlyEvent({
      instanceId: z, eventId: `old-${i}`, subject: 'orders.approvals', type: 'OrderApproved', keptAt: now, expiresAt: now + 3_600_000,
      headers: {}, data: bytes(`old-${i}`, 'OrderApproved', 'c-cap', { approver: 'x' }),
    }, 100);
  }
  const w = (await engine.start({ saga: 'approval', input: {}, correlationId: 'c-cap' })).state.id;
  const y = (await engine.start({ saga: 'approval', input: {}, correlationId: 'c-cap' })).state.id;
  await deliver('inventory.events', { eventType: 'Reserved', correlationId: 'c-cap', causationId: commandId(store, 'inventory.commands', y), payload: {} });
  await engine.settled();
  t.equal(store.getInstance(y)?.steps['await-approval']?.status, 'running', 'Y waits now');

  const approval = { eventId: 'ap-cap', eventType: 'OrderApproved', correlationId: 'c-cap', payload: { approver: 'ann' } };
  t.not(await deliver('orders.approvals', approval), 'ack', 'the first delivery fails at its write');
  t.equal(await deliver('orders.approvals', approval), 'ack', 'its redelivery goes through');
  await engine.settled();

  const after = store.getInstance(y);
  t.equal(after?.steps['await-approval']?.status, 'succeeded', "Y's wait took the event");
  t.same(after?.steps['await-approval']?.output, { approver: 'ann' });
  t.same(store.earlyEventsOf(w).map((e) => e.eventId), ['ap-cap'], 'W, whose wait has not started, keeps it');
  t.equal(store.earlyEventsOf(z).length, 100, 'Z keeps its hundred');
  t.notOk(store.earlyEventsOf(z).some((e) => e.eventId === 'ap-cap'), 'and not this one');
  t.equal(store.listInstances({ saga: 'audit' }).items.length, 1, 'the saga it triggers started');
  const letters = store.listDead({}).items;
  t.equal(letters.length, 1, "Z's copy alone is dead-lettered, once");
  t.equal(letters[0]?.reason, `OrderApproved arrived before the wait step of instance ${z} started, and the instance already keeps 100 such events`, 'naming Z and the cap');
  const letter = store.getDead(letters[0]?.id ?? '');
  t.equal(JSON.parse(new TextDecoder().decode(letter?.data)).eventId, 'ap-cap', 'the letter holds the message as it arrived');
  const metrics = await engine.metrics();
  t.match(metrics, /sagad_early_events_total\{outcome="dead_lettered"\} 1\n/);
  t.match(metrics, /sagad_dead_letters_total\{reason="early_full"\} 1\n/, 'counted as a dead letter');
  t.notMatch(metrics, /sagad_messages_total\{outcome="dead_lettered"\}/, 'the message itself is not a dead letter');
});

const matching = `
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
      - name: await-delivered
        wait: { subject: shipping.updates, type: ShipmentUpdate, match: "{% $.correlationId = $saga.correlationId and $.payload.status = 'delivered' %}" }
        timeout: 1h
      - name: done
        pivot: true
        command: { subject: billing.commands, type: Bill }
        reply: { subject: billing.events, success: [Billed] }
        retry: { maxAttempts: unlimited, initialInterval: 100ms }
`;

t.test('the sweep pages past a hundred kept events their running waits do not take, to a delivery it must repair', async (t) => {
  const { store, engine, deliver } = rig(t, matching);
  const running = async (correlationId: string): Promise<string> => {
    const { state } = await engine.start({ saga: 'ship', input: {}, correlationId });
    await deliver('inventory.events', { eventType: 'Reserved', correlationId, causationId: commandId(store, 'inventory.commands', state.id), payload: {} });
    return state.id;
  };
  const busy: string[] = [];
  for (let i = 0; i < 101; i++) busy.push(await running(`c-busy-${i}`));
  const b = await running('c-b');
  await engine.settled();
  const now = Date.now();
  // Kept as if sagad crashed after keeping them, before the waits started and were offered them:
  // each busy instance's update is one its wait does not take; B's, the newest, is one it takes.
  for (const [i, id] of busy.entries()) {
    store.keepEarlyEvent({
      instanceId: id, eventId: `transit-${i}`, subject: 'shipping.updates', type: 'ShipmentUpdate', keptAt: now - 1_000 + i, expiresAt: now + 3_600_000,
      headers: {}, data: bytes(`transit-${i}`, 'ShipmentUpdate', `c-busy-${i}`, { status: 'in_transit' }),
    }, 100);
  }
  store.keepEarlyEvent({
    instanceId: b, eventId: 'delivered-b', subject: 'shipping.updates', type: 'ShipmentUpdate', keptAt: now, expiresAt: now + 3_600_000,
    headers: {}, data: bytes('delivered-b', 'ShipmentUpdate', 'c-b', { status: 'delivered' }),
  }, 100);
  for (let sweep = 0; sweep < 3; sweep++) await engine.settleEarlyEvents(now);
  await engine.settled();
  t.equal(store.getInstance(b)?.steps['await-delivered']?.status, 'succeeded', "B's wait got its update within three sweeps");
  t.same(store.earlyEventsOf(b), []);
  t.equal(store.getInstance(busy[0] ?? '')?.steps['await-delivered']?.status, 'running', 'the busy waits did not take theirs');
  t.equal(store.earlyEventsOf(busy[100] ?? '').length, 1, 'which stay kept');
  // Round and round: the third sweep began again with the first hundred; then the rest, then the first again.
  t.equal(await engine.settleEarlyEvents(now), 1);
  t.equal(await engine.settleEarlyEvents(now), 100);
  t.equal(await engine.settleEarlyEvents(now), 1);
});

/** An engine on a clock of its own, moved by the test: expiry without sleeping. */
function clockAt(start: number): { env: () => Env; set(ms: number): void; now(): number } {
  let now = start;
  return { env: () => ({ now, newId: () => uuidv7(), random: Math.random }), set: (ms) => { now = ms; }, now: () => now };
}

/** The sweep's store, with `between` run after it read the due events and before it handles them. */
function hooked(port: StorePort, between: { run: (() => Promise<void>) | null }): StorePort {
  return { ...port, earlyEventsDue: async (now, limit, after) => {
    const due = await port.earlyEventsDue(now, limit, after);
    const run = between.run;
    between.run = null;
    if (run !== null) await run();
    return due;
  } };
}

const reply = (correlationId: string, causationId: string): Incoming => ({
  subject: 'inventory.events', eventId: uuidv7(), eventType: 'Reserved', correlationId, causationId, aggregateId: 'a', version: 1, payload: {}, envelope: {},
});

t.test('an expired kept event is not delivered to a wait that starts after the sweep read it: the sweep dead-letters it', async (t) => {
  const clock = clockAt(Date.now());
  const between: { run: (() => Promise<void>) | null } = { run: null };
  const { store, engine, deliver } = rig(t, yaml, { env: clock.env, earlyEventTtlMs: 1_000, wrapStore: (p) => hooked(p, between) });
  const { state } = await engine.start({ saga: 'approval', input: {}, correlationId: 'c-1' });
  await deliver('orders.approvals', { eventId: 'ap-1', eventType: 'OrderApproved', correlationId: 'c-1', payload: { approver: 'ann' } });
  clock.set(clock.now() + 2_000);
  between.run = async () => {
    // The reservation comes in between: the wait starts and is offered what the instance keeps.
    await engine.receive(reply('c-1', commandId(store, 'inventory.commands', state.id)));
    await engine.settled();
  };
  t.equal(await engine.settleEarlyEvents(clock.now()), 1);
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps['await-approval']?.status, 'running', 'the wait did not take the expired approval');
  t.match(store.listDead({}).items, [{ reason: /OrderApproved arrived before a wait step of instance .* SAGA_EARLY_EVENT_TTL \(1000 ms\)/ }], 'it is dead-lettered, once');
  t.same(store.earlyEventsOf(state.id), []);
  t.notMatch(await engine.metrics(), /sagad_early_events_total\{outcome="delivered"\}/);
});

t.test('an expired kept event that another replica delivered after the sweep read it is not dead-lettered as well', async (t) => {
  const clock = clockAt(Date.now());
  const between: { run: (() => Promise<void>) | null } = { run: null };
  const { store, engine, deliver } = rig(t, yaml, { env: clock.env, earlyEventTtlMs: 1_000, wrapStore: (p) => hooked(p, between) });
  const { state } = await engine.start({ saga: 'approval', input: {}, correlationId: 'c-1' });
  await deliver('orders.approvals', { eventId: 'ap-1', eventType: 'OrderApproved', correlationId: 'c-1', payload: { approver: 'ann' } });
  clock.set(clock.now() + 2_000);
  // A replica whose clock is behind: to it the approval is still valid.
  const behind = clockAt(clock.now() - 5_000);
  const other = new Engine({ ...engine.deps, env: behind.env });
  between.run = async () => {
    await other.receive(reply('c-1', commandId(store, 'inventory.commands', state.id)));
    await other.settled();
  };
  await engine.settleEarlyEvents(clock.now());
  await engine.settled();
  const after = store.getInstance(state.id);
  t.equal(after?.steps['await-approval']?.status, 'succeeded', 'the other replica delivered it');
  t.same(after?.steps['await-approval']?.output, { approver: 'ann' });
  t.same(store.listDead({}).items, [], 'and it is not a dead letter too');
  t.notMatch(await engine.metrics(), /sagad_early_events_total\{outcome="dead_lettered"\}/, 'nor counted as one');
});
