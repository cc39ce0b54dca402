import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadDefinitionsFile, loadDefinitionsText } from '../../engine/definitions/index.js';
import { Engine } from '../../engine/runtime/engine.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { silentLog } from '../../engine/log.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import type { InboundMessage } from '../../engine/transport/consumer.js';

/**
 * The shell around the core, without NATS: messages go through the inbound handler and the
 * store is a real SQLite file, so routing, dedupe, dead letters, outbox rows and timers are
 * checked on what was committed.
 */
const root = new URL('../..', import.meta.url).pathname;
const loaded = loadDefinitionsFile(join(root, 'sagas/order-fulfillment.yaml'));
if (!loaded.ok) throw new Error('example definitions do not load');
const sagas = loaded.sagas;

function setup(t: { testdir(): string; teardown(fn: () => void): void }, registry = new Registry(sagas)): { store: Store; engine: Engine } {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  t.teardown(() => store.close());
  return { store, engine: new Engine({ store: sqlitePort(store), registry, log: silentLog }) };
}

/** The inbound handler of `engine`, as the consumers call it. */
const handleInbound = (engine: Engine, msg: InboundMessage) => inboundHandler(engine, engine.deps.store, silentLog)(msg);

/** Fires every timer due at `now`, as the timer service does; resolves with how many. */
async function fireDue(store: Store, engine: Engine, now: number): Promise<number> {
  const rows = store.dueTimers(now, 200);
  await Promise.all(rows.map((row) => engine.fire(row)));
  return rows.length;
}

function inbound(subject: string, env: Record<string, unknown> | Uint8Array, over: Partial<InboundMessage> = {}): InboundMessage {
  const data = env instanceof Uint8Array ? env : encodeEnvelope({
    eventId: uuidv7(), eventType: 'X', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId: 'corr-1', causationId: null, payload: {},
    ...env,
  } as Parameters<typeof encodeEnvelope>[0]);
  return { subject, data, headers: {}, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: 1, ...over };
}

const order = (orderId: string) => ({ orderId, customerId: 'c1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42 });

/** The command the instance sent last, decoded from its outbox row. */
function lastCommand(store: Store) {
  const rows = store.unsent(1000).filter((r) => r.subject !== 'sagas.events');
  const row = rows[rows.length - 1];
  if (row === undefined) throw new Error('no command in the outbox');
  const env = parseEnvelope(row.data);
  if (!env.ok) throw new Error(env.reason);
  return { row, env: env.envelope };
}

t.test('a trigger event starts one instance; its redelivery and a second event with the same key start nothing', async (t) => {
  const { store, engine } = setup(t);
  const trigger = inbound('orders.events', { eventType: 'OrderPlaced', eventId: 'evt-1', payload: order('o-1') });
  t.equal(await handleInbound(engine, trigger), 'ack');
  t.equal(await handleInbound(engine, trigger), 'ack');
  t.equal(await handleInbound(engine, inbound('orders.events', { eventType: 'OrderPlaced', eventId: 'evt-2', payload: order('o-1') })), 'ack');
  const list = store.listInstances({});
  t.equal(list.items.length, 1);
  t.equal(list.items[0]?.key, 'o-1');
  t.equal(list.items[0]?.correlationId, 'corr-1', 'the correlation id of the trigger is kept');
  t.match(await engine.metrics(), /sagad_messages_total\{outcome="duplicate"\} 1/);
});

t.test('a command goes out with the envelope and every header of DESIGN section 3', async (t) => {
  const { store, engine } = setup(t);
  const { state } = await engine.start({ saga: 'order-fulfillment', input: order('o-2'), correlationId: 'c-9' });
  const { row, env } = lastCommand(store);
  t.equal(row.subject, 'inventory.commands');
  t.equal(row.messageId, env.eventId);
  t.match(env, { eventType: 'ReserveInventory', aggregateId: 'o-2', version: 1, correlationId: 'c-9', payload: { orderId: 'o-2', items: [{ sku: 'sku-1', quantity: 2 }] } });
  t.match(row.headers, {
    'Saga-Id': state.id, 'Saga-Name': 'order-fulfillment', 'Saga-Step': 'reserve-inventory', 'Saga-Attempt': '1',
    'Idempotency-Key': `${state.id}/reserve-inventory/do`, 'Saga-Deadline': /^\d{4}-\d\d-\d\dT/, traceparent: /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/,
  });
  t.same(store.lookupCommand(env.eventId), { instanceId: state.id, step: 'reserve-inventory', kind: 'do' });
  const lifecycle = store.unsent(1000).find((r) => r.subject === 'sagas.events');
  t.match(lifecycle?.headers, { 'Saga-Id': state.id, 'Saga-Name': 'order-fulfillment' });
  t.ok(store.timerCount() >= 2, 'an attempt timeout and the saga deadline are stored');
});

t.test('starts are idempotent by id and by key; an unknown saga is refused', async (t) => {
  const { engine } = setup(t);
  const a = await engine.start({ saga: 'order-fulfillment', input: order('o-3'), id: 'inst-1' });
  const b = await engine.start({ saga: 'order-fulfillment', input: order('o-3'), id: 'inst-1' });
  const c = await engine.start({ saga: 'order-fulfillment', input: order('o-3') });
  t.same([a.created, b.created, c.created], [true, false, false]);
  t.equal(c.state.id, 'inst-1');
  await t.rejects(engine.start({ saga: 'nope', input: {} }), { code: 'SAGA_ERR_UNKNOWN_SAGA' });
  await t.rejects(engine.start({ saga: 'order-fulfillment', input: { orderId: 'x' } }), { code: 'SAGA_ERR_INVALID_INPUT' });
});

t.test('a reply advances the saga once; its duplicate, a bad payload and garbage change nothing', async (t) => {
  const { store, engine } = setup(t);
  const { state } = await engine.start({ saga: 'order-fulfillment', input: order('o-4') });
  const cmd = lastCommand(store).env;
  const bad = inbound('inventory.events', { eventType: 'InventoryReserved', causationId: cmd.eventId, correlationId: cmd.correlationId, payload: {} });
  t.equal(await handleInbound(engine, bad), 'ack');
  t.equal(store.getInstance(state.id)?.steps['reserve-inventory']?.status, 'running', 'a reply failing its schema is not applied');
  const reply = inbound('inventory.events', { eventType: 'InventoryReserved', eventId: 'r-1', causationId: cmd.eventId, correlationId: cmd.correlationId, payload: { reservationId: 'res-1' } });
  await handleInbound(engine, reply);
  const after = store.getInstance(state.id);
  t.equal(after?.steps['reserve-inventory']?.status, 'succeeded');
  t.equal(after?.steps['charge-payment']?.status, 'running');
  await handleInbound(engine, reply);
  t.equal(store.getInstance(state.id)?.version, after?.version, 'the duplicate changed nothing');
  await handleInbound(engine, inbound('inventory.events', new TextEncoder().encode('not json')));
  await handleInbound(engine, inbound('inventory.events', { eventType: 'SomethingElse', causationId: 'unknown-command' }));
  const dead = store.listDead({}).items;
  t.equal(dead.length, 2, 'the bad payload and the garbage are dead letters');
  t.match(dead.map((d) => d.reason).sort(), [/InventoryReserved@1 does not match its schema/, /not a JSON envelope/]);
  t.equal(new TextDecoder().decode(store.getDead(dead.find((d) => /JSON/.test(d.reason))?.id ?? '')?.data), 'not json', 'raw bytes are kept');
  t.match(await engine.metrics(), /sagad_messages_total\{outcome="unrelated"\} 1/);
});

t.test('timers fire from the store: a timeout retries, and the retry dispatches attempt 2', async (t) => {
  const { store, engine } = setup(t);
  const { state } = await engine.start({ saga: 'order-fulfillment', input: order('o-5') });
  const due = store.dueTimers(Number.MAX_SAFE_INTEGER, 10).find((r) => r.data.kind === 'attempt_timeout');
  t.ok(due, 'the attempt timeout is a stored row');
  t.equal(await fireDue(store, engine, due!.dueAt - 1), 0, 'nothing is due before its time');
  t.equal(await fireDue(store, engine, due!.dueAt), 1);
  t.equal(store.getInstance(state.id)?.steps['reserve-inventory']?.status, 'retrying');
  const retry = store.dueTimers(Number.MAX_SAFE_INTEGER, 10).find((r) => r.data.kind === 'retry');
  await fireDue(store, engine, retry!.dueAt);
  t.equal(store.getInstance(state.id)?.steps['reserve-inventory']?.attempt, 2);
  t.equal(lastCommand(store).row.headers['Saga-Attempt'], '2');
  t.equal(lastCommand(store).row.headers['Idempotency-Key'], `${state.id}/reserve-inventory/do`, 'the same key for every attempt');
});

t.test('a message that keeps failing is dead-lettered on its last delivery, not dropped', async (t) => {
  const { store, engine } = setup(t);
  const { state } = await engine.start({ saga: 'order-fulfillment', input: order('o-6') });
  const cmd = lastCommand(store).env;
  // Break the instance's pinned definition (neither loaded nor stored): replying to it now throws.
  const broken = new Engine({ store: sqlitePort(store), registry: new Registry([]), log: silentLog });
  const reply = inbound('inventory.events', { eventType: 'InventoryReserved', causationId: cmd.eventId, correlationId: cmd.correlationId, payload: { reservationId: 'r' } });
  t.match(await handleInbound(broken, reply), { nakDelayMs: Number });
  t.equal(await handleInbound(broken, { ...reply, deliveryCount: 5, lastAttempt: true }), 'ack');
  t.match(store.listDead({}).items[0]?.reason, /failed on its last delivery \(5\)/);
  t.equal(store.getInstance(state.id)?.version, 2, 'the failed attempts wrote nothing (SagaStarted, StepDispatched)');
});

t.test('a running instance keeps its definition after the file changed', async (t) => {
  const { store, engine } = setup(t);
  await engine.rememberDefinitions();
  const { state } = await engine.start({ saga: 'order-fulfillment', input: order('o-7') });
  const file = join(root, 'sagas/order-fulfillment.yaml');
  const changed = loadDefinitionsText(readFileSync(file, 'utf8').replace('timeout: 10m', 'timeout: 20m'), file);
  if (!changed.ok) throw new Error('changed definitions do not load');
  const registry = new Registry(changed.sagas);
  t.not(changed.sagas[0]?.hash, state.definitionHash);
  t.equal(registry.byDefinitionHash(state.definitionHash), undefined);
  const restarted = new Engine({ store: sqlitePort(store), registry, log: silentLog });
  t.equal((await restarted.defOf(state)).timeout, 600_000, 'the old definition, 10m deadline, is back from the store');
  t.equal(registry.byDefinitionHash(state.definitionHash)?.timeout, 600_000, 'and kept for the next input');
  t.equal(registry.current('order-fulfillment')?.timeout, 1_200_000, 'new starts use the new one');
});
