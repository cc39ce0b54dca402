/**
 * The console's server side: static files under /ui (content types, no traversal, open
 * without the token, a clear 404 without a build), `GET /v1/whoami`, the definition
 * source route, instances per definition version and saga-time percentiles. fastify's inject over a real SQLite store; no socket, no browser.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import t, { type Test } from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { dslOrdered } from '../../engine/api/routes-definition-source.js';
import { defaultUiDir, isAssetName } from '../../engine/api/routes-ui.js';
import { openStore } from '../../engine/store/index.js';
import { sagas, StoreEngine, t0 } from '../api/store-engine.js';

const TOKEN = 'ui-routes-token';

/** A fake build: a page, a script, a stylesheet, and a secret one level up that must never be served. */
function fakeBuild(root: string): string {
  const dir = join(root, 'ui');
  mkdirSync(dir);
  writeFileSync(join(root, 'secret.txt'), 'the database password');
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>sagad console</title>');
  writeFileSync(join(dir, 'app.js'), `console.log(${JSON.stringify('x'.repeat(4000))});`);
  writeFileSync(join(dir, 'app.css'), 'body { color: black }');
  writeFileSync(join(dir, 'chunk-AB12CD34.js'), 'export const x = 1;');
  writeFileSync(join(dir, 'notes.md'), 'not a known type');
  return dir;
}

let stores = 0;

// t.testdir() empties its directory on every call: each test makes it once and puts everything in it.
function setup(t: Test, root: string, opts: { token?: string; uiDir?: string } = {}) {
  return setupWith(t, root, opts).app;
}

function setupWith(t: Test, root: string, opts: { token?: string; uiDir?: string } = {}) {
  const store = openStore(join(root, `api-${++stores}.db`));
  const engine = new StoreEngine(store);
  const app = buildApi(engine, opts);
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  return { app, engine, store };
}

const input = (orderId: string) => ({ orderId, customerId: 'cust-1', items: [{ sku: 'sku-1', quantity: 2 }], total: 42 });

/** Starts an order and answers every step with success: completed. */
async function completedOrder(engine: StoreEngine, orderId: string): Promise<string> {
  const { state } = await engine.start({ saga: 'order-fulfillment', input: input(orderId) });
  engine.reply(state.id, 'reserve-inventory', 'InventoryReserved', { reservationId: 'r' });
  engine.reply(state.id, 'charge-payment', 'PaymentCharged', { paymentId: 'p' });
  const done = engine.reply(state.id, 'ship-order', 'OrderShipped', { trackingNumber: 't' });
  if (done.status !== 'completed') throw new Error(`order ${orderId} ended ${done.status}`);
  return state.id;
}

t.test('the console files are served with their content types, open without the token', async (t) => {
  const root = t.testdir();
  const app = setup(t, root, { token: TOKEN, uiDir: fakeBuild(root) });
  const redirect = await app.inject({ url: '/ui' });
  t.equal(redirect.statusCode, 302);
  t.equal(redirect.headers.location, '/ui/');

  const page = await app.inject({ url: '/ui/' });
  t.equal(page.statusCode, 200, 'the page needs no token: it holds no data');
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  t.match(page.body, /sagad console/);
  t.match(page.headers['content-security-policy'], /script-src 'self'/, 'scripts only from this origin');
  t.equal(page.headers['x-content-type-options'], 'nosniff');

  const js = await app.inject({ url: '/ui/app.js' });
  t.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  t.match(js.body, /^console\.log/);
  const css = await app.inject({ url: '/ui/app.css' });
  t.equal(css.headers['content-type'], 'text/css; charset=utf-8');

  const zipped = await app.inject({ url: '/ui/app.js', headers: { 'accept-encoding': 'gzip, br' } });
  t.equal(zipped.headers['content-encoding'], 'gzip', 'gzipped for a browser that takes it');
  t.ok(zipped.rawPayload.length < js.rawPayload.length / 4, 'and smaller');
  t.equal(page.headers['cache-control'], 'no-cache', 'the page is revalidated on every load');
  const hashed = await app.inject({ url: '/ui/chunk-AB12CD34.js' });
  t.match(hashed.headers['cache-control'], /immutable/, 'a file named by its content hash is kept for good');
  const again = await app.inject({ url: '/ui/app.js', headers: { 'if-none-match': String(js.headers.etag) } });
  t.equal(again.statusCode, 304, 'an unchanged file costs a 304');

  const api = await app.inject({ url: '/v1/whoami' });
  t.equal(api.statusCode, 401, 'the API behind it still needs the token');
});

t.test('nothing outside the build, and nothing of an unknown type, is served', async (t) => {
  const root = t.testdir();
  const app = setup(t, root, { token: TOKEN, uiDir: fakeBuild(root) });
  for (const url of ['/ui/../secret.txt', '/ui/..%2fsecret.txt', '/ui/%2e%2e%2fsecret.txt', '/ui/..%5csecret.txt', '/ui/.%2e/secret.txt',
    '/ui/notes.md', '/ui/missing.js', '/ui/sub/app.js', '/ui/%00app.js']) {
    const res = await app.inject({ url });
    t.not(res.statusCode, 200, `${url} is refused`);
    t.notMatch(res.body, /database password/, `${url} reveals nothing`);
  }
  t.notOk(isAssetName('..'));
  t.notOk(isAssetName('.env'));
  t.notOk(isAssetName('a/b.js'));
  t.notOk(isAssetName('a\\b.js'));
  t.ok(isAssetName('app.js'));
});

t.test('without a build, /ui/ says how to make one', async (t) => {
  const root = t.testdir();
  const app = setup(t, root, { uiDir: join(root, 'nothing-here') });
  const res = await app.inject({ url: '/ui/' });
  t.equal(res.statusCode, 404);
  t.match(res.json(), { code: 'SAGA_ERR_ROUTE_NOT_FOUND', message: /npm run build/ });
});

t.test('the console is found in dist/ui beside package.json', async (t) => {
  t.match(defaultUiDir(), /[/\\]dist[/\\]ui$/);
});

t.test('GET /v1/whoami says what the token may do', async (t) => {
  const root = t.testdir();
  const withToken = setup(t, root, { token: TOKEN, uiDir: fakeBuild(root) });
  const res = await withToken.inject({ url: '/v1/whoami', headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(res.statusCode, 200);
  t.strictSame(res.json(), { access: 'operate', tokenRequired: true }, 'the one token may act');
  const open = setup(t, root);
  t.strictSame((await open.inject({ url: '/v1/whoami' })).json(), { access: 'operate', tokenRequired: false }, 'no token asked for: anyone may act');
});

t.test('GET /v1/definitions/{name}/source gives the saga as YAML with its hash', async (t) => {
  const app = setup(t, t.testdir());
  const def = sagas.find((s) => s.name === 'order-fulfillment');
  if (def === undefined) throw new Error('fixture missing');
  const res = await app.inject({ url: '/v1/definitions/order-fulfillment/source' });
  t.equal(res.statusCode, 200);
  const body = res.json<{ name: string; hash: string; yaml: string; schemaFiles: string[] }>();
  t.equal(body.hash, def.hash);
  t.strictSame(parse(body.yaml), (JSON.parse(def.source) as { definition: unknown }).definition, 'the YAML is the stored definition');
  t.match(body.yaml, /^name: order-fulfillment\ndescription: /, 'name and description first, as one writes them');
  t.ok(body.schemaFiles.length > 0, 'names its schema files');

  const pinned = await app.inject({ url: `/v1/definitions/order-fulfillment/source?hash=${def.hash}` });
  t.equal(pinned.json<{ hash: string }>().hash, def.hash);
  const other = sagas.find((s) => s.name === 'trip-booking');
  const wrong = await app.inject({ url: `/v1/definitions/order-fulfillment/source?hash=${other?.hash ?? ''}` });
  t.match([wrong.statusCode, wrong.json()], [404, { code: 'SAGA_ERR_UNKNOWN_SAGA' }], "another saga's hash is not this saga");
  const none = await app.inject({ url: '/v1/definitions/nope/source' });
  t.match([none.statusCode, none.json()], [404, { code: 'SAGA_ERR_UNKNOWN_SAGA' }]);
});

t.test('GET /v1/definitions/{name}/versions counts every instance per version, exactly', async (t) => {
  const { app, engine, store } = setupWith(t, t.testdir());
  const def = sagas.find((s) => s.name === 'order-fulfillment');
  if (def === undefined) throw new Error('fixture missing');
  await completedOrder(engine, 'o-1');
  await engine.start({ saga: 'order-fulfillment', input: input('o-2') });
  const running = await engine.start({ saga: 'order-fulfillment', input: input('o-3') });
  // Two instances of an older version, as a definitions file changed since would leave them.
  for (const [id, at] of [['old-1', t0 - 60_000], ['old-2', t0 - 30_000]] as const) {
    store.saveInstance({ ...running.state, id, key: id, definitionHash: 'a1d0c0de', createdAt: at, updatedAt: at });
  }
  const res = await app.inject({ url: '/v1/definitions/order-fulfillment/versions' });
  t.equal(res.statusCode, 200);
  const iso = (ms: number) => new Date(ms).toISOString();
  t.strictSame(res.json(), {
    saga: 'order-fulfillment', current: def.hash,
    items: [
      {
        hash: def.hash, current: true, instances: 3, states: { running: 2, compensating: 0, completed: 1, compensated: 0, failed: 0 },
        firstStartedAt: iso(t0 + 1000), lastStartedAt: iso(running.state.createdAt),
      },
      {
        hash: 'a1d0c0de', current: false, instances: 2, states: { running: 2, compensating: 0, completed: 0, compensated: 0, failed: 0 },
        firstStartedAt: iso(t0 - 60_000), lastStartedAt: iso(t0 - 30_000),
      },
    ],
  }, 'the current version first (its newest start is the latest), then the older one');
  const trip = await app.inject({ url: '/v1/definitions/trip-booking/versions' });
  t.strictSame(trip.json<{ items: unknown[] }>().items, [{
    hash: sagas.find((s) => s.name === 'trip-booking')?.hash, current: true, instances: 0,
    states: { running: 0, compensating: 0, completed: 0, compensated: 0, failed: 0 }, firstStartedAt: null, lastStartedAt: null,
  }], 'a loaded saga without instances has its current version, with none');
  const none = await app.inject({ url: '/v1/definitions/nope/versions' });
  t.match([none.statusCode, none.json()], [404, { code: 'SAGA_ERR_UNKNOWN_SAGA' }]);
});

t.test('GET /v1/stats/durations gives exact p50/p99 of finished instances started since a time', async (t) => {
  const { app, engine } = setupWith(t, t.testdir());
  const ids = [await completedOrder(engine, 'o-1'), await completedOrder(engine, 'o-2')];
  const { state } = await engine.start({ saga: 'order-fulfillment', input: input('o-3') });
  engine.reply(state.id, 'reserve-inventory', 'InventoryReserved', { reservationId: 'r' });
  engine.reply(state.id, 'charge-payment', 'PaymentCharged', { paymentId: 'p' });
  engine.reply(state.id, 'ship-order', 'ShipmentRejected', { reason: 'no carrier' });
  engine.reply(state.id, 'charge-payment', 'PaymentRefunded');
  const comp = engine.reply(state.id, 'reserve-inventory', 'InventoryReleased');
  t.equal(comp.status, 'compensated');
  await engine.start({ saga: 'order-fulfillment', input: input('o-4') });
  const took = ids.map((id) => {
    const s = engine.store.getInstance(id);
    return s === undefined ? -1 : s.updatedAt - s.createdAt;
  });
  const compTook = comp.updatedAt - comp.createdAt;
  t.strictSame(took, [3000, 3000], 'the test clock moves a second per act');
  t.equal(compTook, 5000);

  const res = await app.inject({ url: `/v1/stats/durations?since=${new Date(t0).toISOString()}` });
  t.equal(res.statusCode, 200);
  const body = res.json<Record<string, unknown>>();
  const one = (n: number, p50: number, p99: number) => ({ count: n, p50, p99 });
  const empty = { count: 0, p50: null, p99: null };
  t.strictSame(body.overall, { ...one(3, 3000, 5000), completed: one(2, 3000, 3000), compensated: one(1, 5000, 5000) },
    'the running instance is not counted');
  t.strictSame(body.sagas, [{ saga: 'order-fulfillment', ...one(3, 3000, 5000), completed: one(2, 3000, 3000), compensated: one(1, 5000, 5000) }]);
  t.equal(body.since, new Date(t0).toISOString());
  t.type(body.computedAt, 'string');

  const later = await app.inject({ url: `/v1/stats/durations?since=${comp.createdAt}` });
  t.strictSame(later.json<{ overall: unknown }>().overall, { ...one(1, 5000, 5000), completed: empty, compensated: one(1, 5000, 5000) },
    'since as epoch ms: only instances created at or after it');
  const byDefault = await app.inject({ url: '/v1/stats/durations' });
  const since = Date.parse(byDefault.json<{ since: string }>().since);
  t.ok(Math.abs(since - (Date.now() - 24 * 3600_000)) < 60_000, 'without since: the last 24 hours');
  const bad = await app.inject({ url: '/v1/stats/durations?since=yesterday' });
  t.match([bad.statusCode, bad.json()], [400, { code: 'SAGA_ERR_VALIDATION' }]);
  const unknown = await app.inject({ url: '/v1/stats/durations?saga=x' });
  t.equal(unknown.statusCode, 400, 'no other parameter');
});

t.test('dslOrdered puts the usual keys first and keeps the data', async (t) => {
  const v = { steps: [{ timeout: '1s', name: 'a', zeta: 1, command: { type: 'T', subject: 's' } }], name: 'x' };
  const o = dslOrdered(v);
  t.strictSame(o, v);
  t.strictSame(Object.keys(o as object), ['name', 'steps']);
  t.strictSame(Object.keys((o as { steps: object[] }).steps[0] ?? {}), ['name', 'timeout', 'command', 'zeta']);
});
