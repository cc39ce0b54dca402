import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { openStore } from '../../engine/store/index.js';
import { StoreEngine } from './store-engine.js';

/**
 * What anyone who reaches the port may do. Without tokens the API serves this machine's programs and its own console only
 * (engine/api/auth.ts `sameMachineOnly`): a web page in a browser on the machine must not be
 * able to act through it (a cross-site POST) or read it under a name pointed at 127.0.0.1 (DNS
 * rebinding). Programs send no Origin; the console's requests are same-origin. A request must
 * arrive whole within a bound, and the open /metrics does not read costly gauges per scrape.
 */
function setup(t: Test, opts: Parameters<typeof buildApi>[1] = {}) {
  const store = openStore(join(t.testdir(), 'api.db'));
  const app = buildApi(new StoreEngine(store), opts);
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  const letter = store.park({ subject: 'x.events', reason: 'bad', headers: {}, data: new TextEncoder().encode('{}'), deliveryCount: 1, at: 1 });
  return { app, store, letter: String(letter) };
}

t.test('without tokens: a foreign Origin is refused before anything is done', async (t) => {
  const { app, store, letter } = setup(t);
  const res = await app.inject({ method: 'POST', url: `/v1/dlq/${letter}/redrive`, headers: { origin: 'http://evil.example', host: '127.0.0.1:8080' } });
  t.equal(res.statusCode, 403);
  t.match(res.json(), { code: 'SAGA_ERR_FORBIDDEN', message: /a request from the web page "http:\/\/evil\.example" is refused: without SAGA_API_TOKEN/ });
  t.equal(store.getDead(letter)?.redrivenAt, null, 'not redriven');
  for (const origin of ['null', 'http://127.0.0.1:9999', 'not a url']) {
    const r = await app.inject({ method: 'GET', url: '/v1/instances', headers: { origin, host: '127.0.0.1:8080' } });
    t.equal(r.statusCode, 403, `Origin ${origin}`);
  }
  const same = await app.inject({ method: 'GET', url: '/v1/instances', headers: { origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080' } });
  t.equal(same.statusCode, 200, 'the console (same origin) is served');
  const program = await app.inject({ method: 'GET', url: '/v1/instances', headers: { host: '127.0.0.1:8080' } });
  t.equal(program.statusCode, 200, 'a program (no Origin) is served');
});

t.test('without tokens on loopback: only loopback Host names are answered', async (t) => {
  const { app } = setup(t);
  for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080', 'LOCALHOST', '127.0.0.2']) {
    t.equal((await app.inject({ method: 'GET', url: '/v1/instances', headers: { host } })).statusCode, 200, host);
  }
  const rebound = await app.inject({ method: 'GET', url: '/v1/instances', headers: { host: 'attacker.example:8080', origin: 'http://attacker.example:8080' } });
  t.equal(rebound.statusCode, 403, 'a rebound name, though same-origin to itself');
  t.match(rebound.json(), { code: 'SAGA_ERR_FORBIDDEN', message: /a request for host "attacker\.example:8080" is refused: .*loopback name/ });
  t.equal((await app.inject({ method: 'GET', url: '/healthz', headers: { host: '10.0.0.5:8080' } })).statusCode, 403, 'every route');
});

t.test('without tokens on another address (SAGA_HTTP_INSECURE): any Host, still no foreign Origin', async (t) => {
  const { app } = setup(t, { loopbackListener: false });
  t.equal((await app.inject({ method: 'GET', url: '/v1/instances', headers: { host: 'sagad.internal:8080' } })).statusCode, 200);
  t.equal((await app.inject({ method: 'GET', url: '/v1/instances', headers: { host: 'sagad.internal:8080', origin: 'http://evil.example' } })).statusCode, 403);
});

t.test('with tokens the token decides: a browser cannot send it cross-site without a preflight the API never allows', async (t) => {
  const { app, store, letter } = setup(t, { token: 'secret' });
  const res = await app.inject({ method: 'POST', url: `/v1/dlq/${letter}/redrive`, headers: { origin: 'http://evil.example', host: 'sagad.internal', authorization: 'Bearer secret' } });
  t.equal(res.statusCode, 200, 'a caller with the token is served whatever its Origin and Host');
  t.not(store.getDead(letter)?.redrivenAt, null);
  t.equal((await app.inject({ method: 'POST', url: `/v1/dlq/${letter}/redrive`, headers: { origin: 'http://evil.example' } })).statusCode, 401);
});

t.test('a request must arrive whole within 30 s by default', async (t) => {
  const { app } = setup(t);
  t.equal(app.server.requestTimeout, 30_000, 'a body sent a byte at a time holds its connection no longer');
  t.equal(app.server.headersTimeout, 30_000, 'headers too (Node gives them 60 s)');
  t.equal((app.server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval, 1_000, 'checked every second (Node: every 30 s, so 55 to 85 s in all)');
  const { app: short } = setup(t, { requestTimeoutMs: 5_000 });
  t.equal(short.server.requestTimeout, 5_000);
  t.equal(short.server.headersTimeout, 5_000);
});

t.test('headers cut off half way, or a body that stops, are answered 408 and the connection closed', async (t) => {
  const { app } = setup(t, { requestTimeoutMs: 500 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  for (const sent of ['GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ', 'POST /v1/sagas/s/instances HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"in']) {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d: Buffer) => { got += d.toString(); });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(sent);
    await closed;
    t.match(got, /^HTTP\/1\.1 408 /, `answered 408: ${sent.split('\r\n')[0] ?? ''}`);
  }
});

t.test('an open /metrics whose gauges are costly is answered from a copy for a while, not read again per scrape', async (t) => {
  const store = openStore(join(t.testdir(), 'api.db'));
  const engine = new StoreEngine(store);
  let reads = 0;
  // As the gauges of a million instances on PostgreSQL: a read that takes 300 ms.
  engine.metrics = async () => {
    reads++;
    await new Promise((r) => setTimeout(r, 300));
    return `sagad_reads ${reads}\n`;
  };
  const app = buildApi(engine);
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  const first = await app.inject({ method: 'GET', url: '/metrics' });
  const again = await Promise.all([1, 2, 3].map(() => app.inject({ method: 'GET', url: '/metrics' })));
  t.same([first, ...again].map((r) => r.body), Array(4).fill('sagad_reads 1\n'), 'the same copy');
  t.equal(reads, 1, 'read once');
});
