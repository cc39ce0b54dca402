/**
 * The console's server side: static files under /ui (content types, no traversal, open
 * without the token, a clear 404 without a build), `GET /v1/whoami`, and the definition
 * source route. fastify's inject over a real SQLite store; no socket, no browser.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import t, { type Test } from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { dslOrdered } from '../../engine/api/routes-definition-source.js';
import { defaultUiDir, isAssetName } from '../../engine/api/routes-ui.js';
import { openStore } from '../../engine/store/index.js';
import { sagas, StoreEngine } from '../api/store-engine.js';

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
  const store = openStore(join(root, `api-${++stores}.db`));
  const app = buildApi(new StoreEngine(store), opts);
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  return app;
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

t.test('dslOrdered puts the usual keys first and keeps the data', async (t) => {
  const v = { steps: [{ timeout: '1s', name: 'a', zeta: 1, command: { type: 'T', subject: 's' } }], name: 'x' };
  const o = dslOrdered(v);
  t.strictSame(o, v);
  t.strictSame(Object.keys(o as object), ['name', 'steps']);
  t.strictSame(Object.keys((o as { steps: object[] }).steps[0] ?? {}), ['name', 'timeout', 'command', 'zeta']);
});
