import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { buildApi, type ApiOptions } from '../../engine/api/app.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { uuidv7 } from '../../engine/ids.js';
import { depthOver, identifierProblem } from '../../engine/json-bounds.js';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import type { InboundMessage } from '../../engine/transport/consumer.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';

/**
 * Issue 13, item 2: what comes in is bounded before it is parsed deeper. A 10,000-deep JSON
 * body was a 500 (a stack overflow in the journal append) and a 10,000-deep envelope was
 * redelivered five times before it was parked; a start id with CR/LF was accepted and jammed
 * its outbox forever; a key computed from input had no length limit.
 */
const root = new URL('../..', import.meta.url).pathname;
const loaded = loadDefinitionsFile(join(root, 'sagas/order-fulfillment.yaml'));
if (!loaded.ok) throw new Error('example definitions do not load');
const sagas = loaded.sagas;

function setup(t: Test, opts: ApiOptions = {}): { store: Store; engine: Engine; app: ReturnType<typeof buildApi> } {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(sagas), log: silentLog });
  const app = buildApi(engine, opts);
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  return { store, engine, app };
}

const order = (orderId: string) => ({ orderId, customerId: 'c1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42 });
const deep = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const startUrl = '/v1/sagas/order-fulfillment/instances';

function isError(t: Test, res: LightMyRequestResponse, status: number, code: string, message?: RegExp): void {
  t.equal(res.statusCode, status, `status ${status}`, { body: res.body });
  const body = res.json<{ code?: string; message?: string }>();
  t.equal(body.code, code);
  if (message !== undefined) t.match(body.message, message);
}

function inbound(subject: string, data: Uint8Array, over: Partial<InboundMessage> = {}): InboundMessage {
  return { subject, data, headers: {}, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: 1, ...over };
}

t.test('depth is counted in one pass, outside strings only', async (t) => {
  t.equal(depthOver('{"a":[1,{"b":[]}]}', 4), null);
  t.equal(depthOver('{"a":[1,{"b":[]}]}', 3), 4);
  t.equal(depthOver('"[[[[[[" ', 1), null, 'brackets in a string do not count');
  t.equal(depthOver('["\\"[[[["]', 1), null, 'nor after an escaped quote');
  t.equal(depthOver(new TextEncoder().encode(deep(1_000_000)), 64), 65, 'a million levels are no problem for the check itself');
  t.equal(identifierProblem('id', 'ok-1'), null);
  t.match(identifierProblem('id', 'a\r\nb'), /control character U\+000D/);
  t.match(identifierProblem('id', 'x'.repeat(201)), /201 characters long; at most 200/);
  t.match(identifierProblem('id', ''), /empty/);
});

t.test('HTTP: a 10,000-deep body is a 400 with a code at once, not a 500', async (t) => {
  const { app, store } = setup(t);
  const res = await app.inject({ method: 'POST', url: startUrl, headers: { 'content-type': 'application/json' }, payload: `{"input":${deep(10_000)}}` });
  isError(t, res, 400, 'SAGA_ERR_JSON_TOO_DEEP', /deeper than 64 levels/);
  t.equal(store.listInstances({}).items.length, 0, 'nothing started');
  const limited = setup(t, { maxJsonDepth: 3 });
  isError(t, await limited.app.inject({ method: 'POST', url: startUrl, payload: { input: { a: { b: {} } } } }), 400, 'SAGA_ERR_JSON_TOO_DEEP', /deeper than 3 levels/);
  const ok = await app.inject({ method: 'POST', url: startUrl, payload: { input: { ...order('o-depth'), note: JSON.parse(deep(50)) as unknown } } });
  t.equal(ok.statusCode, 201, 'a body within the depth is served');
  const cancel = await app.inject({ method: 'POST', url: '/v1/instances/x/cancel', headers: { 'content-type': 'application/json' }, payload: `{"reason":${deep(100)}}` });
  isError(t, cancel, 400, 'SAGA_ERR_JSON_TOO_DEEP');
});

t.test('HTTP: ids and keys with control characters or over 200 characters are refused before anything is written', async (t) => {
  const { app, store } = setup(t);
  const post = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: startUrl, payload: { input: order('o-ids'), ...body } });
  isError(t, await post({ id: 'inst\r\nX-Evil: 1' }), 400, 'SAGA_ERR_VALIDATION', /body\/id/);
  isError(t, await post({ key: 'k\n' }), 400, 'SAGA_ERR_VALIDATION', /body\/key/);
  isError(t, await post({ correlationId: 'c\u0000' }), 400, 'SAGA_ERR_VALIDATION', /body\/correlationId/);
  isError(t, await post({ key: 'k'.repeat(201) }), 400, 'SAGA_ERR_VALIDATION');
  // order-fulfillment's key is `$input.orderId`: computed from input, it is held to the same rule.
  const long = await app.inject({ method: 'POST', url: startUrl, payload: { input: order('o'.repeat(100_000)) } });
  isError(t, long, 400, 'SAGA_ERR_INVALID_INPUT', /100000 characters long; at most 200/);
  const crlf = await app.inject({ method: 'POST', url: startUrl, payload: { input: order('o-1\r\nInjected: yes') } });
  isError(t, crlf, 400, 'SAGA_ERR_INVALID_INPUT', /control character U\+000D/);
  t.equal(store.listInstances({}).items.length, 0, 'none of them started anything');
  t.equal(store.backlog(), 0, 'and nothing waits in the outbox');
  t.equal((await post({ id: 'inst-ünïcode-✓', key: 'k-ok' })).statusCode, 201, 'printable text, any script, is fine');
});

t.test('NATS: a start request or trigger with a CR/LF id or an overlong computed key is refused, nothing is written', async (t) => {
  const { engine, store } = setup(t);
  await t.rejects(engine.start({ saga: 'order-fulfillment', input: order('o-nats'), id: 'a\r\nb' }), { code: 'SAGA_ERR_INVALID_INPUT' });
  await t.rejects(engine.start({ saga: 'order-fulfillment', input: order('k'.repeat(300)) }), { code: 'SAGA_ERR_INVALID_INPUT' });
  await t.rejects(engine.start({ saga: 'order-fulfillment', input: order('o-nats-2'), correlationId: 'c\n' }), { code: 'SAGA_ERR_INVALID_INPUT' });
  t.equal(store.listInstances({}).items.length, 0);
});

t.test('NATS: an envelope too deep, too big or with a CR/LF id is parked on its first delivery', async (t) => {
  const { engine, store } = setup(t);
  const handle = inboundHandler(engine, engine.deps.store, silentLog, { limits: { maxBytes: 64 * 1024, maxDepth: 64 } });
  const envelope = (over: Record<string, unknown>) => encodeEnvelope({
    eventId: uuidv7(), eventType: 'OrderPlaced', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId: 'c', causationId: null,
    payload: order('o-env'), ...over,
  } as Parameters<typeof encodeEnvelope>[0]);
  const tooDeep = new TextEncoder().encode(`{"eventId":"e","payload":${deep(10_000)}}`);
  t.equal(await handle(inbound('orders.events', tooDeep, { streamSequence: 1 })), 'ack', 'acked on its first delivery: no redelivery');
  t.equal(await handle(inbound('orders.events', envelope({ payload: { ...order('o-big'), pad: 'x'.repeat(70_000) } }), { streamSequence: 2 })), 'ack');
  t.equal(await handle(inbound('orders.events', envelope({ eventId: 'e\r\n1' }), { streamSequence: 3 })), 'ack');
  t.equal(await handle(inbound('orders.events', envelope({ correlationId: 'c'.repeat(500) }), { streamSequence: 4 })), 'ack');
  const reasons = store.listDead({}).items.map((l) => [l.deliveryCount, l.reason]).reverse();
  t.match(reasons, [
    [1, /JSON nested too deep: more than 64 levels/],
    [1, /message too large: \d+ bytes, the limit is 65536/],
    [1, /eventId contains the control character U\+000D/],
    [1, /correlationId is 500 characters long/],
  ]);
  t.equal(store.listInstances({}).items.length, 0, 'none started a saga');
  t.ok(parseEnvelope(envelope({})).ok, 'the same envelope within the limits is fine');
});
