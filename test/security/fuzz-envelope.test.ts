import fc from 'fast-check';
import t from 'tap';
import { SagaError } from '../../engine/errors.js';
import { identifierProblem } from '../../engine/json-bounds.js';
import { silentLog } from '../../engine/log.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import type { InboundMessage } from '../../engine/transport/consumer.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import { engineOf, holds, jsonValue, nastyString } from './fuzz-helpers.js';

/**
 * Fuzzing envelopes (issue 13, item 8): whatever arrives on a subscribed subject, parsing never
 * throws and says why it refused; the inbound handler never throws, never asks for a
 * redelivery of a message that cannot heal, and a refused message is a dead letter with the
 * reason, nothing else changed.
 */
const envelopeFields = fc.record({
  eventId: fc.oneof(fc.uuid(), nastyString), eventType: fc.oneof(fc.constantFrom('OrderPlaced', 'InventoryReserved', 'PaymentCharged'), nastyString),
  aggregateId: nastyString, timestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), nastyString),
  version: fc.oneof(fc.constant(1), fc.integer(), fc.double()), correlationId: nastyString,
  causationId: fc.oneof(fc.constant(null), fc.uuid(), nastyString), payload: jsonValue(),
}, { requiredKeys: [] });

const deepJson = fc.integer({ min: 60, max: 20_000 }).map((n) => `{"eventId":"e","payload":${'['.repeat(n)}${']'.repeat(n)}}`);

/** Any bytes a publisher could send: random bytes, random JSON, envelopes with odd fields, deep nesting, mutations. */
const anyMessage: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  jsonValue(5).map((v) => new TextEncoder().encode(JSON.stringify(v) ?? '')),
  envelopeFields.map((e) => new TextEncoder().encode(JSON.stringify(e))),
  deepJson.map((s) => new TextEncoder().encode(s)),
  fc.tuple(envelopeFields, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([e, at, byte]) => {
    const bytes = new TextEncoder().encode(JSON.stringify(e));
    if (bytes.length > 0) bytes[at % bytes.length] = byte;
    return bytes;
  }),
);

t.test('parseEnvelope never throws: an envelope it accepts is well formed, a refusal has a reason', async (t) => {
  await holds(t, 'any bytes', anyMessage, (bytes) => {
    const r = parseEnvelope(bytes);
    if (!r.ok) {
      if (typeof r.reason !== 'string' || r.reason.length === 0) throw new Error('a refusal without a reason');
      return;
    }
    const e = r.envelope;
    for (const [name, v] of [['eventId', e.eventId], ['eventType', e.eventType]] as const) {
      const problem = identifierProblem(name, v);
      if (problem !== null) throw new Error(`accepted ${problem}`);
    }
    for (const [name, v] of [['correlationId', e.correlationId], ['aggregateId', e.aggregateId], ['causationId', e.causationId ?? '']] as const) {
      if (v !== '' && identifierProblem(name, v) !== null) throw new Error(`accepted ${identifierProblem(name, v) ?? ''}`);
    }
    if (typeof e.payload !== 'object' || e.payload === null || Array.isArray(e.payload)) throw new Error('payload is not an object');
    if (!Number.isInteger(e.version) || e.version < 1) throw new Error(`version ${e.version}`);
    const again = parseEnvelope(encodeEnvelope(e));
    if (!again.ok) throw new Error(`its own encoding is refused: ${again.reason}`);
  }, 400);
});

t.test('the inbound handler never throws; what cannot heal is parked at once with its reason, nothing else written', async (t) => {
  const { store, engine } = engineOf(t);
  const handle = inboundHandler(engine, engine.deps.store, silentLog);
  let seq = 0;
  await holds(t, 'any message on a reply, trigger or wait subject', fc.tuple(anyMessage, fc.constantFrom('inventory.events', 'orders.events', 'payments.events', 'trips.events')), async ([data, subject]) => {
    const before = store.listDead({ limit: 1 }).items[0]?.id ?? '0';
    const instances = store.listInstances({ limit: 500 }).items.length;
    const msg: InboundMessage = { subject, data, headers: {}, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: ++seq };
    const verdict = await handle(msg);
    const parsed = parseEnvelope(data);
    const newest = store.listDead({ limit: 1 }).items[0];
    const parked = newest !== undefined && newest.id !== before;
    if (!parsed.ok) {
      if (verdict !== 'ack') throw new Error(`a message that is not an envelope got ${JSON.stringify(verdict)}: it would be redelivered`);
      if (!parked || newest.reason !== parsed.reason) throw new Error('a refused envelope is not parked with its reason');
      if (store.listInstances({ limit: 500 }).items.length !== instances) throw new Error('a refused envelope started an instance');
      return;
    }
    // A valid envelope about nothing is acknowledged; a trigger either starts, or is parked for its schema or key.
    if (verdict !== 'ack') throw new Error(`a valid envelope got ${JSON.stringify(verdict)}`);
  });
  const letters = store.listDead({ limit: 500 }).items;
  t.ok(letters.every((l) => l.reason.length > 0 && l.reason.length <= 2100), 'every letter has a bounded reason');
});

t.test('a valid trigger with any input either starts an instance or is refused with a SAGA_ERR code; no id breaks a header', async (t) => {
  const { store, engine } = engineOf(t, 'starts.db');
  await holds(t, 'engine.start with any id, key, correlation id and input', fc.record({
    id: fc.option(nastyString, { nil: undefined }), key: fc.option(nastyString, { nil: undefined }),
    correlationId: fc.option(nastyString, { nil: undefined }), orderId: nastyString, input: jsonValue(3),
  }), async (c) => {
    const input = typeof c.input === 'object' && c.input !== null && !Array.isArray(c.input)
      ? { ...c.input, orderId: c.orderId, customerId: 'c', items: [{ sku: 's', quantity: 1 }], total: 1 } : c.input;
    try {
      const r = await engine.start({ saga: 'order-fulfillment', input, id: c.id, key: c.key, correlationId: c.correlationId });
      for (const row of store.unsent(10_000).filter((o) => o.headers['Saga-Id'] === r.state.id)) {
        for (const [k, v] of Object.entries(row.headers)) {
          if (v.includes('\r') || v.includes('\n') || v.includes('\u0000')) throw new Error(`header ${k} of ${r.state.id} would not publish: ${JSON.stringify(v)}`);
        }
      }
    } catch (err) {
      if (!(err instanceof SagaError) || !/^SAGA_ERR_/.test(err.code)) throw err;
    }
  });
  t.ok(store.listInstances({ limit: 500 }).items.every((i) => identifierProblem('id', i.id) === null && (i.key === null || identifierProblem('key', i.key) === null)),
    'every instance that started has a printable id and key');
});
