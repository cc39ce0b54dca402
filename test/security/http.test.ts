import { request as httpsRequest } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { buildApi, type ApiOptions } from '../../engine/api/app.js';
import { openStore } from '../../engine/store/index.js';
import type { LogLevel } from '../../engine/log.js';
import { waitFor } from '../helpers/sagad.js';
import { selfSignedCert } from '../helpers/tls.js';
import { StoreEngine } from '../api/store-engine.js';

function setup(t: Test, opts: ApiOptions = {}) {
  const store = openStore(join(t.testdir(), 'api.db'));
  const app = buildApi(new StoreEngine(store), opts);
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  return app;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const start = { method: 'POST' as const, url: '/v1/sagas/order-fulfillment/instances', payload: { input: { orderId: 'o-1', customerId: 'c', items: [{ sku: 's', quantity: 1 }], total: 1 } } };

function isError(t: Test, res: LightMyRequestResponse, status: number, code: string): void {
  t.equal(res.statusCode, status, `status ${status}`);
  const body = res.json<Record<string, unknown>>();
  t.strictSame(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode']);
  t.equal(body.code, code);
}

t.test('the read-only token may GET and nothing else', async (t) => {
  const app = setup(t, { token: 'admin-t', readToken: 'read-t' });
  t.equal((await app.inject({ url: '/v1/instances', headers: bearer('read-t') })).statusCode, 200, 'GET with the read token');
  t.equal((await app.inject({ method: 'HEAD', url: '/v1/instances', headers: bearer('read-t') })).statusCode, 200, 'HEAD too');
  const write = await app.inject({ ...start, headers: bearer('read-t') });
  isError(t, write, 403, 'SAGA_ERR_FORBIDDEN');
  t.match(write.json<{ message: string }>().message, 'the read-only token may only read; POST needs an admin token (SAGA_API_TOKEN or one of SAGA_API_TOKENS)');
  isError(t, await app.inject({ method: 'DELETE', url: '/v1/dlq/x', headers: bearer('read-t') }), 403, 'SAGA_ERR_FORBIDDEN');
  t.equal((await app.inject({ ...start, headers: bearer('admin-t') })).statusCode, 201, 'the admin token may write');
  isError(t, await app.inject({ url: '/v1/instances', headers: bearer('other') }), 401, 'SAGA_ERR_UNAUTHORIZED');
  isError(t, await app.inject({ url: '/v1/instances' }), 401, 'SAGA_ERR_UNAUTHORIZED');
});

t.test('GET /v1/whoami says what the token may do', async (t) => {
  const app = setup(t, { token: 'admin-t', readToken: 'read-t' });
  t.strictSame((await app.inject({ url: '/v1/whoami', headers: bearer('admin-t') })).json(), { access: 'operate', tokenRequired: true });
  t.strictSame((await app.inject({ url: '/v1/whoami', headers: bearer('read-t') })).json(), { access: 'read', tokenRequired: true });
  isError(t, await app.inject({ url: '/v1/whoami' }), 401, 'SAGA_ERR_UNAUTHORIZED');
  const open = setup(t);
  t.strictSame((await open.inject({ url: '/v1/whoami' })).json(), { access: 'operate', tokenRequired: false }, 'without tokens everyone may do everything');
});

t.test('/metrics is open by default and behind the token with metricsPublic false', async (t) => {
  const open = setup(t, { token: 'admin-t' });
  t.equal((await open.inject({ url: '/metrics' })).statusCode, 200);
  const closed = setup(t, { token: 'admin-t', readToken: 'read-t', metricsPublic: false });
  isError(t, await closed.inject({ url: '/metrics' }), 401, 'SAGA_ERR_UNAUTHORIZED');
  t.equal((await closed.inject({ url: '/metrics', headers: bearer('read-t') })).statusCode, 200, 'the read token reads metrics');
  t.equal((await closed.inject({ url: '/readyz' })).statusCode, 200, 'the probes stay open');
  t.equal((await closed.inject({ url: '/healthz' })).statusCode, 200);
});

t.test('the body limit answers 413 with a code', async (t) => {
  const app = setup(t, { bodyLimit: 2048 });
  const big = { ...start, payload: { input: { pad: 'x'.repeat(4096) } } };
  isError(t, await app.inject(big), 413, 'SAGA_ERR_BODY_TOO_LARGE');
});

t.test('a client that disconnects mid-body is not logged as an error', async (t) => {
  const logs: { level: LogLevel; msg: string; fields?: Record<string, unknown> }[] = [];
  const app = setup(t, { log: (level, msg, fields) => logs.push({ level, msg, ...(fields === undefined ? {} : { fields }) }) });
  let reading = false;
  app.addHook('preParsing', async () => { reading = true; });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(`POST ${start.url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"input":`);
  await waitFor(() => reading, 10_000, { what: 'the server to start reading the body' });
  socket.destroy();
  await waitFor(() => logs.some((l) => l.msg === 'HTTP client went away before its request was read'), 10_000, { what: 'the debug line' });
  t.equal(logs.find((l) => l.msg.startsWith('HTTP client went away'))?.level, 'debug');
  t.same(logs.filter((l) => l.level === 'error'), [], 'no error lines, no stacks');
});

t.test('a request that is not HTTP gets an error body with a code', async (t) => {
  const app = setup(t);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
    let text = '';
    socket.on('data', (b: Buffer) => { text += b.toString(); });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  t.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
  t.strictSame(body, { statusCode: 400, code: 'SAGA_ERR_BAD_HTTP', error: 'Bad Request', message: 'the request is not valid HTTP' });
});

t.test('HTTPS with a certificate and key', async (t) => {
  const pem = selfSignedCert(t.testdir());
  const app = setup(t, { https: pem, token: 'admin-t' }); // setup empties the test directory again

  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const get = (path: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca: pem.cert, headers: bearer('admin-t') }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
  const who = await get('/v1/whoami');
  t.equal(who.status, 200);
  t.strictSame(JSON.parse(who.body), { access: 'operate', tokenRequired: true });
  const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, (err: Error) => err.message);
  t.not(plain, 200, 'plain HTTP is not served on the HTTPS port');
});
