import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Env } from '../../engine/core/index.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { uuidv7 } from '../../engine/ids.js';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import type { InboundMessage } from '../../engine/transport/consumer.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';

/**
 * Issue 13, item 4, in the shell over a real SQLite file: a reply is matched on its command
 * id and must carry the command's correlationId (a reply with A's command id and B's
 * correlationId completed A); a late success reopens a compensated instance only within
 * SAGA_LATE_SUCCESS_WINDOW. What does not pass is parked with its reason, on its first
 * delivery.
 */
const root = new URL('../..', import.meta.url).pathname;
const loaded = loadDefinitionsFile(join(root, 'sagas/order-fulfillment.yaml'));
if (!loaded.ok) throw new Error('example definitions do not load');
const sagas = loaded.sagas;

/** A clock the test moves: the engine's time comes from it. */
class Clock {
  now = Date.UTC(2026, 10, 27, 9, 0, 0);
  env = (): Env => ({ now: this.now, newId: () => uuidv7(), random: () => 0.5 });
}

function setup(t: Test, lateWindowMs: number | null = null) {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  t.teardown(() => store.close());
  const clock = new Clock();
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(sagas), log: silentLog, env: clock.env, lateWindowMs });
  const handle = inboundHandler(engine, engine.deps.store, silentLog);
  return { store, engine, clock, handle };
}

const order = (orderId: string) => ({ orderId, customerId: 'c1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42 });

let seq = 0;
function replyTo(command: { eventId: string; correlationId: string }, subject: string, eventType: string, payload: Record<string, unknown>, correlationId = command.correlationId): InboundMessage {
  const data = encodeEnvelope({
    eventId: uuidv7(), eventType, aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId, causationId: command.eventId, payload,
  });
  return { subject, data, headers: {}, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: ++seq };
}

/** The last command the instance sent (decoded from the outbox). */
function lastCommand(store: Store, instanceId: string) {
  const rows = store.unsent(10_000).filter((r) => r.headers['Saga-Id'] === instanceId && r.subject !== 'sagas.events');
  const env = parseEnvelope(rows.at(-1)?.data ?? new Uint8Array());
  if (!env.ok) throw new Error(env.reason);
  return env.envelope;
}

t.test("a reply with another instance's correlationId is parked and completes nothing", async (t) => {
  const { store, engine, handle } = setup(t);
  const a = (await engine.start({ saga: 'order-fulfillment', input: order('o-a'), correlationId: 'corr-a' })).state;
  const b = (await engine.start({ saga: 'order-fulfillment', input: order('o-b'), correlationId: 'corr-b' })).state;
  const aCommand = lastCommand(store, a.id);
  t.equal(aCommand.correlationId, 'corr-a');
  const forged = replyTo(aCommand, 'inventory.events', 'InventoryReserved', { reservationId: 'res-forged' }, b.correlationId);
  t.equal(await handle(forged), 'ack', 'acked at once: redelivering cannot mend it');
  t.equal(store.getInstance(a.id)?.steps['reserve-inventory']?.status, 'running', "A's step is not completed by it");
  t.equal(store.getInstance(b.id)?.steps['reserve-inventory']?.status, 'running', "nor is B's");
  const [letter] = store.listDead({}).items;
  t.match(letter, { subject: 'inventory.events', deliveryCount: 1, reason: /carries correlationId "corr-b", but the command was sent with "corr-a"/ });
  const empty = replyTo(aCommand, 'inventory.events', 'InventoryReserved', { reservationId: 'res-empty' }, '');
  await handle(empty);
  t.equal(store.listDead({}).items.length, 2, 'a reply without a correlationId is parked too (DESIGN: it is expected back)');
  await handle(replyTo(aCommand, 'inventory.events', 'InventoryReserved', { reservationId: 'res-a' }));
  t.equal(store.getInstance(a.id)?.steps['reserve-inventory']?.status, 'succeeded', 'the genuine reply completes the step');
});

/** Drives an instance to `compensated`: reserve succeeds, the charge is declined, the reservation is released. */
async function compensated(store: Store, engine: Engine, handle: (m: InboundMessage) => Promise<unknown>, orderId: string) {
  const s = (await engine.start({ saga: 'order-fulfillment', input: order(orderId) })).state;
  await handle(replyTo(lastCommand(store, s.id), 'inventory.events', 'InventoryReserved', { reservationId: `res-${orderId}` }));
  const charge = lastCommand(store, s.id);
  await handle(replyTo(charge, 'payments.events', 'PaymentDeclined', { reason: 'no' }));
  await handle(replyTo(lastCommand(store, s.id), 'inventory.events', 'InventoryReleased', {}));
  const state = store.getInstance(s.id);
  if (state?.status !== 'compensated') throw new Error(`expected compensated, got ${state?.status}`);
  return { state, charge };
}

t.test('a late success after SAGA_LATE_SUCCESS_WINDOW is parked with the reason; the instance stays compensated', async (t) => {
  const { store, engine, clock, handle } = setup(t, 60_000);
  const { state, charge } = await compensated(store, engine, handle, 'o-late');
  clock.now = state.updatedAt + 60_001;
  t.equal(await handle(replyTo(charge, 'payments.events', 'PaymentCharged', { paymentId: 'pay-late' })), 'ack');
  const after = store.getInstance(state.id);
  t.equal(after?.status, 'compensated', 'not reopened');
  t.equal(after?.version, state.version, 'nothing journaled');
  const [letter] = store.listDead({}).items;
  t.match(letter, { subject: 'payments.events', deliveryCount: 1, reason: /arrived more than 60000 ms \(SAGA_LATE_SUCCESS_WINDOW\) after the instance was compensated/ });
});

t.test('a late success within the window reopens the instance and its step is compensated', async (t) => {
  const { store, engine, clock, handle } = setup(t, 60_000);
  const { state, charge } = await compensated(store, engine, handle, 'o-in-time');
  clock.now = state.updatedAt + 59_000;
  await handle(replyTo(charge, 'payments.events', 'PaymentCharged', { paymentId: 'pay-in-time' }));
  const after = store.getInstance(state.id);
  t.equal(after?.status, 'compensating', 'reopened to refund the charge');
  t.equal(lastCommand(store, state.id).eventType, 'RefundPayment');
  t.equal(store.listDead({}).items.length, 0);
});
