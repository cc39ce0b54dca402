import t from 'tap';
import type { Test } from 'tap';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import type { Envelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { waitFor } from '../helpers/sagad.js';
import { order, SAGA } from './api-client.js';
import { startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';

/** What comes in: repeated starts (API, NATS request, trigger events) and messages that cannot be processed. */
const w = await startWorld(t);

const envelope = (eventType: string, aggregateId: string, payload: Record<string, unknown>, over: Partial<Envelope> = {}): Envelope => ({
  eventId: uuidv7(), eventType, aggregateId, timestamp: new Date().toISOString(), version: 1, correlationId: `corr-${uuidv7()}`, causationId: null, payload, ...over,
});

/** Every instance of an order, by its business key; each is checked against the ledger once it ended. */
async function onlyInstanceOf(t: Test, orderId: string) {
  const items = await w.api.list({ saga: SAGA, key: orderId });
  t.equal(items.length, 1, `one instance for ${orderId}`, w.diag({ items }));
  const doc = await w.api.settled(items[0]?.id ?? '');
  t.equal(doc.state, 'completed', `${orderId} completed`, w.diag());
  t.same(w.ledger().filter((e) => e.orderId === orderId && e.effect === 'done').map((e) => [e.sagaId, e.step]),
    [[doc.id, 'reserve-inventory'], [doc.id, 'charge-payment'], [doc.id, 'ship-order']], 'the participant worked for that one instance only');
  t.same(sagaViolations(doc, await w.api.history(doc.id), w.ledger()), [], 'saga guarantee', w.diag());
  return doc;
}

t.test('starts through the API are idempotent by id, by Idempotency-Key header and by business key', async (t) => {
  const first = await w.api.start(order('o-id-1'), { id: 'start-1' });
  t.equal(first.status, 201, 'created', w.diag({ body: first.body }));
  t.equal(first.body.id, 'start-1');
  const again = await w.api.start(order('o-id-1'), { id: 'start-1' });
  t.match([again.status, again.body.id], [200, 'start-1'], 'the same id: the same instance, 200');

  const byHeader = await w.api.start(order('o-id-2'), {}, { 'Idempotency-Key': 'hdr-2' });
  t.equal(byHeader.status, 201);
  const byHeaderAgain = await w.api.start(order('o-id-2'), {}, { 'Idempotency-Key': 'hdr-2' });
  t.match([byHeaderAgain.status, byHeaderAgain.body.id], [200, byHeader.body.id], 'the same Idempotency-Key header: the same instance');

  const byKey = await w.api.start(order('o-id-3'));
  t.equal(byKey.status, 201);
  const sameOrder = await w.api.start(order('o-id-3'));
  t.match([sameOrder.status, sameOrder.body.id], [200, byKey.body.id], 'the same orderId (the saga key) with a new request: the same instance');
  const otherId = await w.api.start(order('o-id-3'), { id: 'start-3b' });
  t.match([otherId.status, otherId.body.id], [200, byKey.body.id], 'even with another id, the key finds the first instance');

  const explicit = await w.api.start(order('o-id-4a'), { key: 'custom-key-4' });
  const explicitAgain = await w.api.start(order('o-id-4b'), { key: 'custom-key-4' });
  t.match([explicit.status, explicitAgain.status, explicitAgain.body.id], [201, 200, explicit.body.id], 'an explicit key works the same');

  for (const orderId of ['o-id-1', 'o-id-2', 'o-id-3']) await onlyInstanceOf(t, orderId);
  t.equal((await w.api.list({ saga: SAGA, key: 'custom-key-4' })).length, 1);
  t.same(w.ledger().filter((e) => e.orderId === 'o-id-4b'), [], 'the second order with that key started nothing');
});

t.test('starts over NATS (sagas.start.<name>) are idempotent by id', async (t) => {
  const link = await w.link();
  const ask = async (payload: Record<string, unknown>) => {
    const res = await link.nc.request(`sagas.start.${SAGA}`, encodeEnvelope(envelope('StartSaga', 'o-nats-1', payload)), { timeout: 5_000 });
    return JSON.parse(new TextDecoder().decode(res.data)) as { id?: string; created?: boolean; error?: unknown };
  };
  const first = await ask({ input: order('o-nats-1'), id: 'nats-start-1' });
  t.match(first, { id: 'nats-start-1', created: true }, 'created', w.diag({ first }));
  const again = await ask({ input: order('o-nats-1'), id: 'nats-start-1' });
  t.match(again, { id: 'nats-start-1', created: false }, 'the same id: nothing new');
  await onlyInstanceOf(t, 'o-nats-1');
});

t.test('a trigger event redelivered, or sent again for the same order, starts one instance', async (t) => {
  const { js } = await w.link();
  const orderId = 'o-trigger-1';
  const placed = envelope('OrderPlaced', orderId, order(orderId));
  const bytes = encodeEnvelope(placed);
  await publishEnvelope(js, 'orders.events', bytes, {}, placed.eventId);
  // The same eventId under the same Nats-Msg-Id (JetStream drops it) and under another (sagad's inbox must).
  await publishEnvelope(js, 'orders.events', bytes, {}, placed.eventId);
  await publishEnvelope(js, 'orders.events', bytes, {}, `${placed.eventId}-redelivered`);
  const second = envelope('OrderPlaced', orderId, order(orderId));
  await publishEnvelope(js, 'orders.events', encodeEnvelope(second), {}, second.eventId);
  await waitFor(() => w.sagadIdle(), 15_000, { what: 'sagad to consume the trigger events' });
  t.equal(await w.api.metric('sagad_messages_total', 'outcome="duplicate"'), 1, 'sagad dropped the redelivered eventId', w.diag());
  t.equal(await w.api.metric('sagad_messages_total', 'outcome="trigger"'), 2, 'both distinct events were handled as triggers');
  const doc = await onlyInstanceOf(t, orderId);
  t.equal(doc.correlationId, placed.correlationId, 'the first event started it and gave its correlationId');
  const history = await w.api.history(doc.id);
  t.equal(history.filter((h) => h.type === 'SagaStarted').length, 1);
});

t.test('poison messages are dead-lettered with their reason and bytes; the saga and the consumer go on', async (t) => {
  const { js } = await w.link();
  const garbage = Uint8Array.from([0xff, 0xfe, 0x00, 0x7b, 0x6e, 0x6f, 0x74, 0x20, 0x6a, 0x73, 0x6f, 0x6e]);
  await publishEnvelope(js, 'inventory.events', garbage, {}, `garbage-${uuidv7()}`);
  // Valid, but about no saga: acknowledged and counted, not dead-lettered.
  const stray = envelope('InventoryReserved', 'o-nobody', { reservationId: 'res-x' }, { causationId: uuidv7() });
  await publishEnvelope(js, 'inventory.events', encodeEnvelope(stray), {}, stray.eventId);

  // The participant sends an InventoryReserved without reservationId before the good one.
  const { id } = await w.api.started(order('o-poison~badreply'));
  const doc = await w.api.settled(id);
  t.equal(doc.state, 'completed', 'the saga completes despite the bad reply', w.diag());

  type Letter = { id: string; subject: string; reason: string; data: string; text: string | null; deliveryCount: number };
  // A list has no bodies (issue 13): each letter is read on its own.
  const full = async (items: { id: string }[]) => Promise.all(items.map(async (l) => (await w.api.req<Letter>('GET', `/v1/dlq/${l.id}`)).body));
  const letters = await full(await waitFor(async () => {
    const r = await w.api.req<{ items: { id: string }[] }>('GET', '/v1/dlq');
    return r.body.items.length >= 2 ? r.body.items : undefined;
  }, 10_000, { what: 'two dead letters' }));
  t.equal(letters.length, 2, 'exactly the two poison messages', w.diag({ letters }));
  const bad = letters.find((l) => Buffer.from(l.data, 'base64').equals(Buffer.from(garbage)));
  t.ok(bad, 'the garbage is kept byte for byte', { letters });
  t.match(bad, { subject: 'inventory.events', reason: /not a JSON envelope/, text: null });
  const invalid = letters.find((l) => l !== bad);
  t.match(invalid, { subject: 'inventory.events', reason: /InventoryReserved@1 does not match its schema/ }, 'the schema-invalid reply', { letters });
  const reserveCommand = w.ledger().find((e) => e.sagaId === id && e.step === 'reserve-inventory')?.commandId;
  t.match(JSON.parse(invalid?.text ?? '{}'), { eventType: 'InventoryReserved', causationId: reserveCommand, payload: { orderId: 'o-poison~badreply' } }, 'its data is the message as sent');
  t.notOk(letters.some((l) => l.text?.includes(stray.eventId)), 'the stray event is not a dead letter');

  // The consumer is not stalled: a saga after the poison completes and nothing is left pending.
  const after = await w.api.started(order('o-after-poison'));
  t.equal((await w.api.settled(after.id)).state, 'completed', 'a later saga completes', w.diag());
  await waitFor(() => w.sagadIdle(), 10_000, { what: 'sagad consumers to be idle' });
  t.same(realEffects(w.ledger(), after.id).length, 3);
  t.equal(await w.api.metric('sagad_dead_letters'), 2, 'the metric counts them');

  // Redriven, the bad reply is published again and parked again; a deleted letter is gone.
  const redrive = await w.api.req<Letter & { redrivenAt: string | null }>('POST', `/v1/dlq/${invalid?.id ?? ''}/redrive`);
  t.equal(redrive.status, 200, 'redrive accepted', { body: redrive.body });
  t.ok(redrive.body.redrivenAt, 'the letter is marked redriven');
  const [reparked] = await full([await waitFor(async () => {
    const r = await w.api.req<{ items: { id: string }[] }>('GET', '/v1/dlq');
    return r.body.items.find((l) => l.id !== invalid?.id && l.id !== bad?.id);
  }, 10_000, { what: 'the redriven message to be parked again' })]);
  t.equal(reparked?.text, invalid?.text, 'the same bytes came back');
  t.equal((await w.api.instance(id)).state, 'completed', 'the redrive changed nothing for the saga');
  const del = await w.api.req('DELETE', `/v1/dlq/${bad?.id ?? ''}`);
  t.equal(del.status, 204);
  const gone = await w.api.req<{ code: string }>('GET', `/v1/dlq/${bad?.id ?? ''}`);
  t.match([gone.status, gone.body.code], [404, 'SAGA_ERR_NOT_FOUND']);
});

t.test('a trigger event whose payload fails its schema is dead-lettered at once, and later triggers still start', async (t) => {
  const { js } = await w.link();
  const invalid = envelope('OrderPlaced', 'o-invalid', { orderId: 'o-invalid', items: [] });
  await publishEnvelope(js, 'orders.events', encodeEnvelope(invalid), {}, invalid.eventId);
  const valid = envelope('OrderPlaced', 'o-after-invalid', order('o-after-invalid'));
  await publishEnvelope(js, 'orders.events', encodeEnvelope(valid), {}, valid.eventId);
  const started = await waitFor(async () => (await w.api.list({ key: 'o-after-invalid' }))[0], 10_000, { what: 'the valid trigger to start a saga' });
  t.equal((await w.api.settled(started.id)).state, 'completed', 'the valid trigger behind it is not held up', w.diag());

  type Letter = { subject: string; reason: string; deliveryCount: number; preview: string | null };
  const letter = await waitFor(async () => {
    const r = await w.api.req<{ items: Letter[] }>('GET', '/v1/dlq');
    return r.body.items.find((l) => l.preview?.includes(invalid.eventId));
  }, 30_000, { what: 'the invalid trigger in the dead-letter queue' });
  t.match(letter, { subject: 'orders.events', reason: /OrderPlaced@1 schema/ }, 'parked with the schema problem as its reason');
  t.equal(letter.deliveryCount, 1, 'parked on its first delivery, not after retries: a schema failure cannot heal on redelivery (DESIGN section 3)', w.diag({ letter }));
  t.same(await w.api.list({ key: 'o-invalid' }), [], 'no instance for it');
});
