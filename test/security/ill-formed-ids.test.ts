import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { uuidv7 } from '../../engine/ids.js';
import { identifierProblem } from '../../engine/json-bounds.js';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import type { InboundMessage } from '../../engine/transport/consumer.js';
import { encodeEnvelope, parseEnvelope, type Envelope } from '../../engine/transport/envelope.js';

/**
 * An identifier holding a lone UTF-16 surrogate is refused wherever one comes in. SQLite keeps
 * UTF-8: such an id was stored as invalid bytes and read back as "x\uFFFD\uFFFD\uFFFD", so every
 * path that reads ids from rows (due timers, the instances open after a restart, the command
 * lookup, lists) named no instance: its timers never fired, a reply after a restart was lost.
 */
const root = new URL('../..', import.meta.url).pathname;
const loaded = loadDefinitionsFile(join(root, 'sagas/order-fulfillment.yaml'));
if (!loaded.ok) throw new Error('example definitions do not load');
const sagas = loaded.sagas;

const HIGH = '\ud800';
const LOW = '\udc00';

function setup(t: Test): { store: Store; engine: Engine; app: ReturnType<typeof buildApi> } {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(sagas), log: silentLog });
  const app = buildApi(engine);
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  return { store, engine, app };
}

const order = (orderId: string) => ({ orderId, customerId: 'c1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42 });
const startUrl = '/v1/sagas/order-fulfillment/instances';

function isError(t: Test, res: LightMyRequestResponse, status: number, code: string, message?: RegExp): void {
  t.equal(res.statusCode, status, `status ${status}`, { body: res.body });
  const body = res.json<{ code?: string; message?: string }>();
  t.equal(body.code, code);
  if (message !== undefined) t.match(body.message, message);
}

function inbound(subject: string, data: Uint8Array, streamSequence: number): InboundMessage {
  return { subject, data, headers: {}, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence };
}

const envelope = (over: Partial<Envelope>): Uint8Array => encodeEnvelope({
  eventId: uuidv7(), eventType: 'OrderPlaced', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId: 'c', causationId: null,
  payload: order('o-env'), ...over,
});

t.test('a lone surrogate, high or low, is a problem; a surrogate pair is not', async (t) => {
  t.match(identifierProblem('id', `x${HIGH}`), /^id contains the lone surrogate U\+D800 at 1; only well-formed Unicode text is allowed$/);
  t.match(identifierProblem('key', `${LOW}x`), /key contains the lone surrogate U\+DC00 at 0/);
  t.match(identifierProblem('id', `a${LOW}${HIGH}b`), /U\+DC00 at 1/, 'a low half before a high half is no pair');
  t.equal(identifierProblem('id', 'order-😀-1'), null, 'a character beyond the BMP, written as a pair, is fine');
  t.equal(identifierProblem('id', 'inst-ünïcode-✓'), null);
});

t.test('HTTP: an id, key or correlation id with a lone surrogate is refused, nothing is written', async (t) => {
  const { app, store } = setup(t);
  // inject sends JSON.stringify of the body: a lone surrogate travels as the escape \ud800, valid UTF-8 that JSON.parse turns back into it.
  const post = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: startUrl, payload: { input: order('o-ids'), ...body } });
  isError(t, await post({ id: `x${HIGH}` }), 400, 'SAGA_ERR_VALIDATION', /body\/id/);
  isError(t, await post({ key: `k${LOW}` }), 400, 'SAGA_ERR_VALIDATION', /body\/key/);
  isError(t, await post({ correlationId: `${HIGH}c` }), 400, 'SAGA_ERR_VALIDATION', /body\/correlationId/);
  // order-fulfillment's key is `$input.orderId`: computed from input, it is held to the same rule.
  const computed = await app.inject({ method: 'POST', url: startUrl, payload: { input: order(`o${HIGH}`) } });
  isError(t, computed, 400, 'SAGA_ERR_INVALID_INPUT', /the key computed by .*orderId.* contains the lone surrogate U\+D800 at 1/);
  t.equal(store.listInstances({}).items.length, 0, 'none of them started anything');
  t.equal(store.backlog(), 0, 'and nothing waits in the outbox');
  const ok = await post({ id: 'inst-😀', key: 'k-😀', correlationId: 'c-😀' });
  t.equal(ok.statusCode, 201, 'a well-formed id beyond the BMP is fine', { body: ok.body });
  t.equal(store.listInstances({}).items[0]?.id, 'inst-😀', 'and reads back as it was given');
});

t.test('NATS: a start with a lone surrogate in its id, key or correlation id is refused, nothing is written', async (t) => {
  const { engine, store } = setup(t);
  await t.rejects(engine.start({ saga: 'order-fulfillment', input: order('o-n1'), id: `x${HIGH}` }), { code: 'SAGA_ERR_INVALID_INPUT', message: /^id contains the lone surrogate/ });
  await t.rejects(engine.start({ saga: 'order-fulfillment', input: order('o-n2'), key: `k${LOW}` }), { code: 'SAGA_ERR_INVALID_INPUT', message: /^key contains the lone surrogate/ });
  await t.rejects(engine.start({ saga: 'order-fulfillment', input: order('o-n3'), correlationId: `c${HIGH}` }), { code: 'SAGA_ERR_INVALID_INPUT', message: /^correlationId contains/ });
  await t.rejects(engine.start({ saga: 'order-fulfillment', input: order(`o${LOW}`) }), { code: 'SAGA_ERR_INVALID_INPUT', message: /key computed by .* lone surrogate U\+DC00/ });
  t.equal(store.listInstances({}).items.length, 0);
});

t.test('NATS: an envelope with a lone surrogate in an id is parked as invalid on its first delivery', async (t) => {
  const { engine, store } = setup(t);
  const handle = inboundHandler(engine, engine.deps.store, silentLog);
  const bad = { eventId: `e${HIGH}1`, correlationId: `c${LOW}`, causationId: `${HIGH}` };
  for (const [name, value] of Object.entries(bad)) {
    const parsed = parseEnvelope(envelope({ [name]: value }));
    t.match(parsed, { ok: false, reason: new RegExp(`^invalid envelope: ${name} contains the lone surrogate`) }, `parseEnvelope refuses ${name}`);
  }
  let seq = 0;
  for (const [name, value] of Object.entries(bad)) t.equal(await handle(inbound('orders.events', envelope({ [name]: value }), ++seq)), 'ack', `${name}: acked at once`);
  // A trigger whose computed key is ill-formed: the envelope is fine, the start is not.
  t.equal(await handle(inbound('orders.events', envelope({ payload: order(`o${HIGH}`) }), ++seq)), 'ack');
  const reasons = store.listDead({}).items.map((l) => [l.deliveryCount, l.reason]).reverse();
  t.match(reasons, [
    [1, /eventId contains the lone surrogate U\+D800 at 1/],
    [1, /correlationId contains the lone surrogate U\+DC00 at 1/],
    [1, /causationId contains the lone surrogate U\+D800 at 0/],
    [1, /key computed by .* contains the lone surrogate U\+D800 at 1/],
  ]);
  t.equal(store.listInstances({}).items.length, 0, 'none started a saga');
  t.equal(await handle(inbound('orders.events', envelope({ eventId: `e-😀-${uuidv7()}`, payload: order('o-😀') }), seq + 1)), 'ack');
  t.same(store.listInstances({}).items.map((i) => i.key), ['o-😀'], 'a well-formed trigger beyond the BMP starts its saga');
});
