import t from 'tap';
import type { InstanceState } from '../../engine/core/index.js';
import { SagaError } from '../../engine/errors.js';
import { body, isError, setup, type Json } from './api-harness.js';
import { sagas, t0 } from './store-engine.js';

const order = (orderId: string, extra: Json = {}) => ({
  input: { orderId, customerId: 'cust-1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42, ...extra },
});

t.test('start: 201 once, then 200 for the same id, Idempotency-Key or business key', async (t) => {
  const { app, engine } = setup(t);
  const first = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', payload: { ...order('o-1'), correlationId: 'c-1', id: 'inst-1' } });
  t.equal(first.statusCode, 201);
  t.equal(first.headers.location, '/v1/instances/inst-1');
  t.match(body(first), { id: 'inst-1', saga: 'order-fulfillment', key: 'o-1', correlationId: 'c-1', state: 'running', input: order('o-1').input });

  const again = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', payload: { ...order('o-1'), id: 'inst-1' } });
  t.equal(again.statusCode, 200, 'same id');
  t.strictSame(body(again), body(first));
  t.equal(again.headers.location, undefined);

  const sameKey = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', payload: order('o-1') });
  t.equal(sameKey.statusCode, 200, 'same business key, no id');
  t.equal(body(sameKey).id, 'inst-1');

  const headers = { 'idempotency-key': 'idem-7' };
  const byHeader = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', headers, payload: order('o-2') });
  t.equal(byHeader.statusCode, 201);
  t.equal(body(byHeader).id, 'idem-7', 'the header is the id');
  const byHeaderAgain = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', headers, payload: order('o-3') });
  t.equal(byHeaderAgain.statusCode, 200, 'same Idempotency-Key');
  t.equal(body(byHeaderAgain).key, 'o-2', 'the first instance comes back');

  const bodyWins = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', headers, payload: { ...order('o-4'), id: 'inst-4' } });
  t.equal(bodyWins.statusCode, 201, 'an id in the body wins over the header');
  t.equal(body(bodyWins).id, 'inst-4');

  const explicitKey = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', payload: { ...order('o-5'), key: 'custom' } });
  t.equal(body(explicitKey).key, 'custom');
  t.equal(engine.store.listInstances().items.length, 4);
});

t.test('start: unknown saga, bad bodies, bad input, engine not ready', async (t) => {
  const { app, engine } = setup(t);
  const post = (payload: unknown, url = '/v1/sagas/order-fulfillment/instances', headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, payload: payload as Json, headers });
  isError(t, await post(order('o-1'), '/v1/sagas/nope/instances'), 404, 'SAGA_ERR_UNKNOWN_SAGA');
  isError(t, await post({}), 400, 'SAGA_ERR_VALIDATION', /input/);
  isError(t, await post({ ...order('o-1'), extra: 1 }), 400, 'SAGA_ERR_VALIDATION', /additional properties/);
  isError(t, await post({ ...order('o-1'), key: 7 }), 400, 'SAGA_ERR_VALIDATION', /key/);
  isError(t, await post({ ...order('o-1'), id: '' }), 400, 'SAGA_ERR_VALIDATION');
  isError(t, await post([1, 2]), 400, 'SAGA_ERR_VALIDATION');
  isError(t, await post(order('o-1'), undefined, { 'idempotency-key': '' }), 400, 'SAGA_ERR_VALIDATION', /idempotency-key/);
  isError(t, await post({ input: { customerId: 'c' } }), 400, 'SAGA_ERR_INVALID_INPUT', /start\.key/);
  const notJson = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', headers: { 'content-type': 'application/json' }, payload: '{"input":' });
  isError(t, notJson, 400, 'SAGA_ERR_BAD_REQUEST');
  t.match(JSON.parse(notJson.body), { message: /not valid JSON/ }, 'bad JSON keeps fastify\'s answer');
  for (const payload of ['{"input":{"orderId":"o-p","m":{"__proto__":1}}}', '{"input":{"orderId":"o-c","constructor":{"prototype":{}}}}']) {
    const proto = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', headers: { 'content-type': 'application/json' }, payload });
    isError(t, proto, 400, 'SAGA_ERR_BAD_REQUEST',
      'the body is not taken: it has a key __proto__, or a constructor key holding prototype, which sagad refuses: copied into an object such a key sets its prototype');
  }
  const text = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', headers: { 'content-type': 'text/csv' }, payload: 'a,b' });
  isError(t, text, 415, 'SAGA_ERR_UNSUPPORTED_MEDIA_TYPE');
  engine.failWith = new SagaError('SAGA_ERR_NOT_READY', 'the engine is draining');
  isError(t, await post(order('o-1')), 503, 'SAGA_ERR_NOT_READY', 'the engine is draining');
});

t.test('start: a body over the limit is a 413', async (t) => {
  const { app } = setup(t, { bodyLimit: 200 });
  const res = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', payload: order('o-1', { note: 'x'.repeat(300) }) });
  isError(t, res, 413, 'SAGA_ERR_BODY_TOO_LARGE');
});

t.test('instance document: every step in definition order, pending ones too, compensation objects', async (t) => {
  const { app, engine } = setup(t);
  const started = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', payload: { ...order('o-1'), id: 'i-1' } });
  const doc = body(started);
  t.strictSame(Object.keys(doc).sort(), ['correlationId', 'createdAt', 'deadlineAt', 'definitionHash', 'id', 'input', 'key', 'saga', 'state', 'steps', 'timers', 'updatedAt']);
  t.equal(doc.definitionHash, sagas[0]?.hash);
  t.equal(doc.createdAt, new Date(t0 + 1000).toISOString());
  t.equal(doc.deadlineAt, new Date(t0 + 1000 + 600_000).toISOString());
  t.strictSame(doc.steps, [
    { name: 'reserve-inventory', state: 'running', attempts: 1, startedAt: doc.createdAt, finishedAt: null, lastError: null, compensation: null },
    { name: 'charge-payment', state: 'pending', attempts: 0, startedAt: null, finishedAt: null, lastError: null, compensation: null },
    { name: 'ship-order', state: 'pending', attempts: 0, startedAt: null, finishedAt: null, lastError: null, compensation: null },
  ]);

  engine.reply('i-1', 'reserve-inventory', 'InventoryReserved', { reservationId: 'r-1' });
  engine.reply('i-1', 'charge-payment', 'PaymentDeclined', { reason: 'card expired' });
  const compensating = body(await app.inject({ url: '/v1/instances/i-1' }));
  t.equal(compensating.state, 'compensating');
  t.match(compensating.reason, /charge-payment|PaymentDeclined/);
  t.match(compensating.steps, [
    { name: 'reserve-inventory', state: 'compensating', attempts: 1, compensation: { state: 'running', attempts: 1, lastError: null } },
    { name: 'charge-payment', state: 'failed', attempts: 1, lastError: /PaymentDeclined/, compensation: null },
    { name: 'ship-order', state: 'pending', attempts: 0 },
  ]);

  engine.reply('i-1', 'reserve-inventory', 'InventoryReleased');
  const compensated = body(await app.inject({ url: '/v1/instances/i-1' }));
  t.equal(compensated.state, 'compensated');
  const steps = compensated.steps as Json[];
  t.match(steps[0], { state: 'compensated', compensation: { state: 'compensated', attempts: 1, lastError: null, finishedAt: String } });
  t.equal(compensated.updatedAt, new Date(engine.env.now).toISOString());

  isError(t, await app.inject({ url: '/v1/instances/nope' }), 404, 'SAGA_ERR_NOT_FOUND', 'no instance nope');
});

t.test('history: the journal oldest first, times ISO', async (t) => {
  const { app, engine } = setup(t);
  await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', payload: { ...order('o-1'), id: 'i-1' } });
  engine.reply('i-1', 'reserve-inventory', 'InventoryReserved', { reservationId: 'r-1' });
  const res = await app.inject({ url: '/v1/instances/i-1/history' });
  t.equal(res.statusCode, 200);
  const items = body(res).items as Json[];
  t.strictSame(items.map((e) => e.seq), items.map((_, i) => i + 1), 'seq 1..n in order');
  t.equal(items.length, engine.store.history('i-1').length);
  t.match(items[0], { seq: 1, type: 'SagaStarted', version: 1, at: new Date(t0 + 1000).toISOString(), data: { type: 'SagaStarted', instanceId: 'i-1' } });
  t.ok(items.some((e) => e.type === 'StepSucceeded'));
  for (const e of items) t.strictSame(Object.keys(e).sort(), ['at', 'data', 'seq', 'type', 'version']);
  isError(t, await app.inject({ url: '/v1/instances/nope/history' }), 404, 'SAGA_ERR_NOT_FOUND', 'no instance nope');
  // `after`: what came after the entries a poller has.
  const after2 = await app.inject({ url: '/v1/instances/i-1/history?after=2' });
  t.equal(after2.statusCode, 200);
  t.strictSame((body(after2).items as Json[]).map((e) => e.seq), items.slice(2).map((e) => e.seq), 'after=2: from seq 3 on');
  t.strictSame(body(await app.inject({ url: `/v1/instances/i-1/history?after=${items.length}` })).items, [], 'after the last: none, not a 404');
  isError(t, await app.inject({ url: '/v1/instances/i-1/history?after=-1' }), 400, 'SAGA_ERR_VALIDATION', /after/);
  isError(t, await app.inject({ url: '/v1/instances/i-1/history?after=x' }), 400, 'SAGA_ERR_VALIDATION', /after/);
  isError(t, await app.inject({ url: '/v1/instances/nope/history?after=1' }), 404, 'SAGA_ERR_NOT_FOUND', 'no instance nope');
});

t.test('cancel and retry: state checks through the real core', async (t) => {
  const { app, engine } = setup(t);
  const post = (url: string, payload?: Json) => app.inject({ method: 'POST', url, ...(payload === undefined ? {} : { payload }) });
  for (const id of ['run', 'done', 'pivot', 'fail']) await post('/v1/sagas/order-fulfillment/instances', { ...order(`o-${id}`), id });

  const cancelled = await post('/v1/instances/run/cancel', { reason: 'customer called' });
  t.equal(cancelled.statusCode, 200);
  t.match(body(cancelled), { id: 'run', state: 'compensating', reason: 'cancelled: customer called' });
  isError(t, await post('/v1/instances/run/cancel', { reason: 'again' }), 409, 'SAGA_ERR_INVALID_STATE');
  isError(t, await post('/v1/instances/run/cancel', {}), 400, 'SAGA_ERR_VALIDATION', /reason/);
  isError(t, await post('/v1/instances/run/cancel', { reason: '  ' }), 400, 'SAGA_ERR_VALIDATION');
  for (const reason of ['x\u001b[2J', 'ok\rFAKE', 'two\nlines']) {
    isError(t, await post('/v1/instances/run/cancel', { reason }), 400, 'SAGA_ERR_VALIDATION', /reason/);
  }
  isError(t, await post('/v1/instances/run/cancel'), 400, 'SAGA_ERR_VALIDATION');
  isError(t, await post('/v1/instances/nope/cancel', { reason: 'x' }), 404, 'SAGA_ERR_NOT_FOUND');

  engine.reply('done', 'reserve-inventory', 'InventoryReserved', { reservationId: 'r' });
  engine.reply('done', 'charge-payment', 'PaymentCharged', { paymentId: 'p' });
  engine.reply('done', 'ship-order', 'OrderShipped');
  isError(t, await post('/v1/instances/done/cancel', { reason: 'too late' }), 409, 'SAGA_ERR_INVALID_STATE', /completed/);
  isError(t, await post('/v1/instances/done/retry'), 409, 'SAGA_ERR_INVALID_STATE');

  engine.reply('pivot', 'reserve-inventory', 'InventoryReserved', { reservationId: 'r' });
  engine.reply('pivot', 'charge-payment', 'PaymentCharged', { paymentId: 'p' });
  isError(t, await post('/v1/instances/pivot/cancel', { reason: 'stop' }), 409, 'SAGA_ERR_PAST_PIVOT');

  // Cancelled while reserve-inventory awaits its reply: its compensation times out 10 times.
  await post('/v1/instances/fail/cancel', { reason: 'test' });
  for (let s = engine.store.getInstance('fail'); s?.status === 'compensating'; s = engine.store.getInstance('fail')) {
    const c = s.steps['reserve-inventory']?.compensation;
    if (c === null || c === undefined) throw new Error('no compensation');
    const kind = c.status === 'running' ? 'comp_timeout' : 'comp_retry';
    engine.feed('fail', { type: 'TimerFired', timer: { kind, step: 'reserve-inventory', attempt: c.attempt } });
  }
  const failed = body(await app.inject({ url: '/v1/instances/fail' }));
  t.match(failed, { state: 'failed', failure: { step: 'reserve-inventory', error: /no reply/ }, reason: 'cancelled: test' });
  t.match((failed.steps as Json[])[0], { state: 'compensation_failed', compensation: { state: 'compensation_failed', attempts: 10, lastError: /no reply/ } });

  const retried = await app.inject({ method: 'POST', url: '/v1/instances/fail/retry', headers: { 'content-type': 'application/json' }, payload: '' });
  t.equal(retried.statusCode, 200, 'an empty JSON body is no body');
  t.match(body(retried), { state: 'compensating', steps: [{ state: 'compensating', compensation: { state: 'running', attempts: 1 } }] });
  t.notOk('failure' in body(retried));
  isError(t, await post('/v1/instances/fail/retry'), 409, 'SAGA_ERR_INVALID_STATE', /only a failed instance/);
  isError(t, await post('/v1/instances/nope/retry'), 404, 'SAGA_ERR_NOT_FOUND');
});

t.test('list: every filter, cursor paging, summaries', async (t) => {
  const { app, engine } = setup(t);
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const id = `i-${i}`;
    await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', payload: { ...order(`o-${i}`), id, correlationId: `c-${i % 2}` } });
    ids.push(id);
  }
  await app.inject({
    method: 'POST', url: '/v1/sagas/trip-booking/instances',
    payload: { id: 'trip', input: { bookingId: 'b-1', from: 'AMS', to: 'LIS', departureDate: '2026-12-01', nights: 3 } },
  });
  await engine.cancel('i-3', 'test');
  const newest = [...ids].reverse();
  const list = async (query: string) => {
    const res = await app.inject({ url: `/v1/instances${query}` });
    t.equal(res.statusCode, 200, query);
    return body(res) as { items: Json[]; nextCursor: string | null };
  };

  const all = await list('');
  t.strictSame(all.items.map((i) => i.id), ['trip', ...newest]);
  t.equal(all.nextCursor, null);
  const i0 = engine.store.getInstance('i-0') as InstanceState;
  t.strictSame(all.items.at(-1), {
    id: 'i-0', saga: 'order-fulfillment', key: 'o-0', correlationId: 'c-0', state: 'running', definitionHash: i0.definitionHash,
    createdAt: new Date(i0.createdAt).toISOString(), updatedAt: new Date(i0.updatedAt).toISOString(),
  });

  t.strictSame((await list('?saga=trip-booking')).items.map((i) => i.id), ['trip']);
  t.strictSame((await list('?saga=order-fulfillment')).items.map((i) => i.id), newest);
  t.strictSame((await list('?state=compensating')).items.map((i) => i.id), ['i-3']);
  t.strictSame((await list('?key=o-5')).items.map((i) => i.id), ['i-5']);
  t.strictSame((await list('?correlationId=c-1')).items.map((i) => i.id), ['i-5', 'i-3', 'i-1']);
  const i4 = engine.store.getInstance('i-4') as InstanceState;
  t.strictSame((await list(`?saga=order-fulfillment&since=${i4.createdAt}`)).items.map((i) => i.id), ['i-6', 'i-5', 'i-4'], 'since epoch ms');
  t.strictSame((await list(`?saga=order-fulfillment&since=${new Date(i4.createdAt).toISOString()}`)).items.map((i) => i.id), ['i-6', 'i-5', 'i-4'], 'since ISO');
  t.strictSame((await list(`?saga=order-fulfillment&until=${new Date(i4.createdAt).toISOString()}`)).items.map((i) => i.id), ['i-4', 'i-3', 'i-2', 'i-1', 'i-0'], 'until ISO');
  t.strictSame((await list(`?since=${i4.createdAt}&until=${i4.createdAt}`)).items.map((i) => i.id), ['i-4'], 'a time range');
  t.strictSame((await list('?state=running&correlationId=c-0&saga=order-fulfillment')).items.map((i) => i.id), ['i-6', 'i-4', 'i-2', 'i-0']);
  t.strictSame((await list('?saga=nope')).items, []);

  const seen: unknown[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: Json[]; nextCursor: string | null } = await list(`?limit=3${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    seen.push(...page.items.map((i) => i.id));
    sizes.push(page.items.length);
    cursor = page.nextCursor;
  } while (cursor !== null);
  t.strictSame(seen, ['trip', ...newest], 'each once, in order');
  t.strictSame(sizes, [3, 3, 2]);

  for (const bad of ['?state=done', '?limit=0', '?limit=501', '?limit=ten', '?colour=red', '?since=yesterday', '?since=2026-13-45T00:00:00Z', '?until=tomorrow']) {
    isError(t, await app.inject({ url: `/v1/instances${bad}` }), 400, 'SAGA_ERR_VALIDATION', undefined);
  }
  isError(t, await app.inject({ url: '/v1/instances?cursor=garbage' }), 400, 'SAGA_ERR_BAD_CURSOR');
});

t.test('dlq: list, show, redrive, delete; binary data intact', async (t) => {
  const { app, engine, store } = setup(t);
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const binary = store.park({ subject: 'inventory.events', reason: 'not a JSON envelope', headers: { 'Nats-Msg-Id': 'n-1' }, data: bytes, deliveryCount: 3, at: t0 });
  const text = store.park({ subject: 'payments.events', reason: 'invalid: payload must have reservationId', headers: {}, data: Buffer.from('{"ünïcode":true}'), deliveryCount: 1, at: t0 + 5 });

  const page = body(await app.inject({ url: '/v1/dlq' }));
  t.equal(page.nextCursor, null);
  t.strictSame((page.items as Json[]).map((l) => l.id), [text, binary], 'newest first');
  t.strictSame((page.items as Json[])[1], {
    id: binary, subject: 'inventory.events', reason: 'not a JSON envelope', receivedAt: new Date(t0).toISOString(), deliveryCount: 3,
    redrivenAt: null, redrivenBy: null, headers: { 'Nats-Msg-Id': 'n-1' }, size: 256, preview: null,
  }, 'a list item has the size of its body, not the body');
  t.match((page.items as Json[])[0], { size: Buffer.byteLength('{"ünïcode":true}'), preview: '{"ünïcode":true}' });

  const one = body(await app.inject({ url: `/v1/dlq/${binary}` }));
  t.strictSame(one, {
    id: binary, subject: 'inventory.events', reason: 'not a JSON envelope', receivedAt: new Date(t0).toISOString(), deliveryCount: 3,
    redrivenAt: null, redrivenBy: null, headers: { 'Nats-Msg-Id': 'n-1' }, data: Buffer.from(bytes).toString('base64'), text: null,
  });
  t.ok(Buffer.from(String(one.data), 'base64').equals(Buffer.from(bytes)), 'all 256 byte values round-trip');
  t.match(body(await app.inject({ url: `/v1/dlq/${text}` })), { text: '{"ünïcode":true}', headers: {} });

  const first = body(await app.inject({ url: '/v1/dlq?limit=1' }));
  t.equal((first.items as Json[]).length, 1);
  const second = body(await app.inject({ url: `/v1/dlq?limit=1&cursor=${String(first.nextCursor)}` }));
  t.strictSame((second.items as Json[]).map((l) => l.id), [binary]);
  t.equal(second.nextCursor, null);
  isError(t, await app.inject({ url: '/v1/dlq?cursor=nope' }), 400, 'SAGA_ERR_BAD_CURSOR');
  isError(t, await app.inject({ url: '/v1/dlq?limit=0' }), 400, 'SAGA_ERR_VALIDATION');

  const redriven = await app.inject({ method: 'POST', url: `/v1/dlq/${binary}/redrive` });
  t.equal(redriven.statusCode, 200);
  t.equal(body(redriven).redrivenAt, new Date(engine.env.now).toISOString());
  t.strictSame(engine.redriven, [binary]);
  t.equal(body(redriven).redrivenBy, 'anonymous', 'without tokens the caller is anonymous');
  isError(t, await app.inject({ method: 'POST', url: `/v1/dlq/${binary}/redrive` }), 409, 'SAGA_ERR_ALREADY_REDRIVEN', /redriven already/);
  t.strictSame(engine.redriven, [binary], 'a second redrive publishes nothing');
  isError(t, await app.inject({ method: 'POST', url: '/v1/dlq/999/redrive' }), 404, 'SAGA_ERR_NOT_FOUND', 'no dead letter 999');

  const deleted = await app.inject({ method: 'DELETE', url: `/v1/dlq/${binary}` });
  t.equal(deleted.statusCode, 204);
  t.equal(deleted.body, '');
  isError(t, await app.inject({ method: 'DELETE', url: `/v1/dlq/${binary}` }), 404, 'SAGA_ERR_NOT_FOUND');
  isError(t, await app.inject({ url: `/v1/dlq/${binary}` }), 404, 'SAGA_ERR_NOT_FOUND');
  isError(t, await app.inject({ url: '/v1/dlq/abc' }), 404, 'SAGA_ERR_NOT_FOUND');
});

t.test('health, readiness, metrics', async (t) => {
  const { app, engine } = setup(t);
  const health = await app.inject({ url: '/healthz' });
  t.equal(health.statusCode, 200);
  t.strictSame(body(health), { status: 'ok' });

  t.match(body(await app.inject({ url: '/readyz' })), { status: 'ready', ready: true, checks: { nats: { ok: true } } });
  engine.ready = { ready: false, checks: { nats: { ok: false, detail: 'not connected to nats://127.0.0.1:4222' }, streams: { ok: true } } };
  const down = await app.inject({ url: '/readyz' });
  t.equal(down.statusCode, 503);
  t.strictSame(body(down), { status: 'not_ready', ready: false, checks: engine.ready.checks });
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'alive while not ready');

  const metrics = await app.inject({ url: '/metrics' });
  t.equal(metrics.statusCode, 200);
  t.equal(metrics.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  t.equal(metrics.body, await engine.metrics(), 'the exposition text unchanged');
});

t.test('bearer token: /v1 needs it, health and metrics stay open', async (t) => {
  const { app } = setup(t, { token: 's3cret' });
  const none = isError(t, await app.inject({ url: '/v1/instances' }), 401, 'SAGA_ERR_UNAUTHORIZED');
  t.match(none.message, /Authorization: Bearer/);
  const wrong = await app.inject({ url: '/v1/instances', headers: { authorization: 'Bearer nope' } });
  isError(t, wrong, 401, 'SAGA_ERR_UNAUTHORIZED');
  t.match(wrong.headers['www-authenticate'], /^Bearer/);
  isError(t, await app.inject({ url: '/v1/instances', headers: { authorization: 's3cret' } }), 401, 'SAGA_ERR_UNAUTHORIZED');
  isError(t, await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', payload: order('o-1') }), 401, 'SAGA_ERR_UNAUTHORIZED');
  isError(t, await app.inject({ url: '/v1/nothing-here' }), 401, 'SAGA_ERR_UNAUTHORIZED', undefined);

  const ok = await app.inject({ url: '/v1/instances', headers: { authorization: 'Bearer s3cret' } });
  t.equal(ok.statusCode, 200);
  const started = await app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', headers: { authorization: 'bearer s3cret' }, payload: order('o-1') });
  t.equal(started.statusCode, 201, 'the scheme is case-insensitive');
  for (const url of ['/healthz', '/readyz', '/metrics']) t.equal((await app.inject({ url })).statusCode, 200, `${url} is open`);
});

t.test('unknown routes and unexpected errors', async (t) => {
  const logged: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const { app, engine } = setup(t, { log: (level, msg, fields) => void logged.push({ level, msg, fields }) });
  isError(t, await app.inject({ url: '/v2/instances' }), 404, 'SAGA_ERR_ROUTE_NOT_FOUND', 'no route GET /v2/instances');
  isError(t, await app.inject({ method: 'DELETE', url: '/v1/instances?x=1' }), 404, 'SAGA_ERR_ROUTE_NOT_FOUND', 'no route DELETE /v1/instances');

  engine.failWith = new Error('SQLITE_CORRUPT: database disk image is malformed at /secret/path');
  const internal = isError(t, await app.inject({ url: '/v1/instances/i-1' }), 500, 'SAGA_ERR_INTERNAL');
  t.notMatch(internal.message, /secret|SQLITE/, 'the real error stays in the log');
  t.match(logged, [{ level: 'error', msg: 'HTTP request failed', fields: { method: 'GET', url: '/v1/instances/i-1', error: /SQLITE_CORRUPT/ } }]);
  engine.failWith = new SagaError('SAGA_ERR_DEFINITION_MISSING', 'an engine error no client can mend');
  isError(t, await app.inject({ url: '/v1/instances/i-1' }), 500, 'SAGA_ERR_DEFINITION_MISSING', 'an engine error no client can mend');
  t.equal(logged.length, 2, 'a SagaError answered with 500 is logged too');
  engine.readiness = () => { throw new Error('readiness bug'); };
  const ready = await app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 503, 'a failing readiness check is not ready');
  t.match(logged[2], { msg: 'readiness check failed', fields: { error: /readiness bug/ } });
});

t.test('stats and the timers of an instance', async (t) => {
  const { app, engine, store } = setup(t);
  const post = (payload: Json) => app.inject({ method: 'POST', url: '/v1/sagas/order-fulfillment/instances', payload });
  await post({ ...order('o-1'), id: 'a' });
  await post({ ...order('o-2'), id: 'b' });
  await engine.cancel('b', 'test');
  store.putTimer('a', 'attempt_timeout:reserve-inventory:1', t0 + 6000, { kind: 'attempt_timeout', step: 'reserve-inventory', attempt: 1 });
  store.putTimer('a', 'deadline', t0 + 601_000, { kind: 'deadline' });
  store.putTimer('a', 'wait_timeout:x', t0 + 7000, { kind: 'wait_timeout', step: 'x' });
  store.park({ subject: 's', reason: 'r', headers: {}, data: new Uint8Array(), deliveryCount: 1, at: t0 });

  const stats = await app.inject({ url: '/v1/stats' });
  t.equal(stats.statusCode, 200);
  t.strictSame(body(stats), {
    instances: [{ saga: 'order-fulfillment', state: 'compensating', count: 1 }, { saga: 'order-fulfillment', state: 'running', count: 1 }],
    timersPending: 3, outboxBacklog: 0, deadLetters: 1, consumerLag: 3,
  });

  const doc = body(await app.inject({ url: '/v1/instances/a' }));
  t.strictSame(doc.timers, [
    { kind: 'attempt_timeout', step: 'reserve-inventory', attempt: 1, dueAt: new Date(t0 + 6000).toISOString() },
    { kind: 'wait_timeout', step: 'x', attempt: null, dueAt: new Date(t0 + 7000).toISOString() },
    { kind: 'deadline', step: null, attempt: null, dueAt: new Date(t0 + 601_000).toISOString() },
  ], 'earliest first');
  t.strictSame(body(await app.inject({ url: '/v1/instances/b' })).timers, []);

  const guarded = setup(t, { token: 'k' });
  isError(t, await guarded.app.inject({ url: '/v1/stats' }), 401, 'SAGA_ERR_UNAUTHORIZED');
});
