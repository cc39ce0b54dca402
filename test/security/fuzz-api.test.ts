import fc from 'fast-check';
import t from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { engineOf, holds, jsonValue, nastyString } from './fuzz-helpers.js';

/**
 * Fuzzing the HTTP API (issue 13, item 8): whatever body, path parameter or query a client
 * sends, the answer is never a 500, and every error names a SAGA_ERR_* code; a refused request
 * writes nothing.
 */
const { store, engine } = engineOf(t);
const app = buildApi(engine, {});
t.teardown(() => app.close());
const order = { orderId: 'o-fuzz', customerId: 'c', items: [{ sku: 's', quantity: 1 }], total: 1 };
const started = await engine.start({ saga: 'order-fulfillment', input: order });

interface Answer { statusCode: number; body: string; headers: Record<string, unknown> }

function judge(res: Answer, what: string): void {
  if (res.statusCode >= 500) throw new Error(`${what}: ${res.statusCode} ${res.body}`);
  if (res.statusCode < 400) return;
  const body = JSON.parse(res.body) as { code?: unknown; statusCode?: unknown; message?: unknown };
  if (typeof body.code !== 'string' || !body.code.startsWith('SAGA_ERR_')) throw new Error(`${what}: an error without a code: ${res.body}`);
  if (body.statusCode !== res.statusCode || typeof body.message !== 'string') throw new Error(`${what}: a malformed error body: ${res.body}`);
}

/** Raw body text: JSON values, near-JSON, deep nesting and plain garbage. */
const rawBody = fc.oneof(
  jsonValue(5).map((v) => JSON.stringify(v) ?? 'null'),
  fc.record({ input: jsonValue(4), key: fc.option(nastyString), correlationId: fc.option(nastyString), id: fc.option(nastyString), reason: fc.option(nastyString) }, { requiredKeys: [] })
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 60 }),
  fc.integer({ min: 50, max: 5_000 }).map((n) => `{"input":${'['.repeat(n)}${']'.repeat(n)}}`),
  fc.constantFrom('', ' ', '{', '{"__proto__":{"x":1},"input":{}}', '{"constructor":{"prototype":{"x":1}},"input":{}}', '\u0000'),
);

t.test('POST bodies: start, cancel, retry and redrive never answer 500 and always name a code', async (t) => {
  const routes = ['/v1/sagas/order-fulfillment/instances', '/v1/sagas/trip-booking/instances', `/v1/instances/${started.state.id}/cancel`,
    `/v1/instances/${started.state.id}/retry`, '/v1/dlq/1/redrive', '/v1/sagas/nope/instances'];
  await holds(t, 'any body on any acting route', fc.tuple(fc.constantFrom(...routes), rawBody, fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8')),
    async ([url, payload, type]) => judge(await app.inject({ method: 'POST', url, payload, headers: { 'content-type': type } }), `POST ${url}`));
  t.equal(({}  as Record<string, unknown>).x, undefined, 'no prototype was polluted');
});

t.test('path parameters and queries: never a 500, always a code', async (t) => {
  const param = nastyString.map((s) => encodeURIComponent(s));
  const query = fc.dictionary(fc.constantFrom('limit', 'cursor', 'saga', 'state', 'key', 'correlationId', 'since', 'until', 'reason', 'x'), nastyString, { maxKeys: 4 })
    .map((q) => new URLSearchParams(q).toString());
  await holds(t, 'any id and query on every reading route', fc.tuple(param, query, fc.constantFrom('/v1/instances/:id', '/v1/instances/:id/history', '/v1/dlq/:id', '/v1/definitions/:id', '/v1/instances', '/v1/dlq')),
    async ([id, q, route]) => {
      const url = `${route.replace(':id', id === '' ? 'x' : id)}?${q}`;
      judge(await app.inject({ method: 'GET', url }), `GET ${url}`);
    });
  await holds(t, 'any id on delete', param, async (id) => judge(await app.inject({ method: 'DELETE', url: `/v1/dlq/${id === '' ? 'x' : id}` }), 'DELETE'));
  t.ok(store.listInstances({ limit: 500 }).items.length >= 1);
});
