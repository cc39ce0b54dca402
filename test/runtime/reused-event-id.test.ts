import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import type { Incoming } from '../../engine/runtime/engine.js';
import type { LogFn } from '../../engine/log.js';
import { parseEnvelope } from '../../engine/transport/envelope.js';

/**
 * A participant that gives two replies one eventId (DESIGN section 3 asks for one per
 * message): the second is refused as a duplicate by the inbox, and its step keeps waiting.
 * sagad says so in its log, naming the instance and the step; a redelivery of one reply (the
 * same message again) is a duplicate it does not warn about.
 */
const root = new URL('../..', import.meta.url).pathname;
const loaded = loadDefinitionsFile(join(root, 'sagas/order-fulfillment.yaml'));
if (!loaded.ok) throw new Error('example definitions do not load');
const sagas = loaded.sagas;

interface Line { level: string; msg: string; fields: Record<string, unknown> }

function setup(t: Test): { store: Store; engine: Engine; lines: Line[] } {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  t.teardown(() => store.close());
  const lines: Line[] = [];
  const log: LogFn = (level, msg, fields = {}) => void lines.push({ level, msg, fields });
  return { store, engine: new Engine({ store: sqlitePort(store), registry: new Registry(sagas), log }), lines };
}

const order = (orderId: string) => ({ orderId, customerId: 'c1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42 });

/** The last command the instance sent on `subject`, from the outbox. */
function command(store: Store, subject: string) {
  const row = store.unsent(1000).filter((r) => r.subject === subject).at(-1);
  if (row === undefined) throw new Error(`no command on ${subject}`);
  const env = parseEnvelope(row.data);
  if (!env.ok) throw new Error(env.reason);
  return env.envelope;
}

/** A reply to `cmd` as the engine receives it. */
function reply(subject: string, eventType: string, eventId: string, cmd: { eventId: string; correlationId: string }, payload: Record<string, unknown>): Incoming {
  const envelope = { eventId, eventType, aggregateId: 'o-1', timestamp: new Date().toISOString(), version: 1, correlationId: cmd.correlationId, causationId: cmd.eventId, payload };
  return {
    subject, eventId, eventType, correlationId: cmd.correlationId, causationId: cmd.eventId, aggregateId: 'o-1', version: 1, payload, envelope,
    trace: {}, raw: { data: new Uint8Array(), headers: {} },
  };
}

const WARNING = 'a reply was dropped as a duplicate: another message used its eventId first';

t.test('a reply with the eventId of an earlier reply is refused, and the log names the instance, the step and the id', async (t) => {
  const { store, engine, lines } = setup(t);
  const { state } = await engine.start({ saga: 'order-fulfillment', input: order('o-1') });
  const reserve = command(store, 'inventory.commands');
  t.equal(await engine.receive(reply('inventory.events', 'InventoryReserved', 'participant-o-1', reserve, { reservationId: 'r-1' })), 'reply');
  const charge = command(store, 'payments.commands');
  const before = store.getInstance(state.id);
  t.equal(before?.steps['charge-payment']?.awaiting, charge.eventId, 'charge-payment awaits its reply');

  t.equal(await engine.receive(reply('payments.events', 'PaymentCharged', 'participant-o-1', charge, { paymentId: 'p-1' })), 'duplicate');
  const after = store.getInstance(state.id);
  t.equal(after?.version, before?.version, 'the refused reply changed nothing');
  t.equal(after?.steps['charge-payment']?.awaiting, charge.eventId, 'and the step still awaits its reply');
  const warned = lines.filter((l) => l.msg === WARNING);
  t.equal(warned.length, 1, 'one warning');
  t.match(warned[0], {
    level: 'warn',
    fields: { instance: state.id, saga: 'order-fulfillment', step: 'charge-payment', subject: 'payments.events', eventType: 'PaymentCharged', eventId: 'participant-o-1', causationId: charge.eventId, what: /eventId of its own/ },
  });
});

t.test('a redelivered reply is a duplicate without a warning, one after the other or both at once', async (t) => {
  const { store, engine, lines } = setup(t);
  await engine.start({ saga: 'order-fulfillment', input: order('o-1') });
  const reserve = command(store, 'inventory.commands');
  const r = reply('inventory.events', 'InventoryReserved', 'r-1', reserve, { reservationId: 'r-1' });
  t.equal(await engine.receive(r), 'reply');
  t.equal(await engine.receive(r), 'duplicate', 'again after its commit');

  const charge = command(store, 'payments.commands');
  const p = reply('payments.events', 'PaymentCharged', 'p-1', charge, { paymentId: 'p-1' });
  t.same((await Promise.all([engine.receive(p), engine.receive(p)])).sort(), ['duplicate', 'reply'], 'twice at once: one moves the step');
  t.same(lines.filter((l) => l.msg === WARNING), [], 'nothing warned');
});
