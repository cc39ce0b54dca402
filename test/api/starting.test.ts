import { request as httpsRequest } from 'node:https';
import { connect, createServer } from 'node:net';
import t from 'tap';
import { listenWhileStarting } from '../../engine/api/starting.js';
import { selfSignedCert } from '../helpers/tls.js';

/**
 * What sagad's HTTP port answers while sagad starts (engine/api/starting.ts): alive, not ready
 * and why, and a handover of the port that no idle or half-open connection holds up.
 */
t.test('while starting: /healthz 200, /readyz 503 with what is awaited, other routes 503; the port is free once closed', async (t) => {
  const s = await listenWhileStarting('127.0.0.1', 0);
  const base = `http://127.0.0.1:${s.port}`;
  const health = await fetch(`${base}/healthz`);
  t.same([health.status, await health.json()], [200, { status: 'starting' }]);
  s.note('waiting for the store: PostgreSQL at x is unavailable');
  const ready = await fetch(`${base}/readyz?verbose=1`);
  t.same([ready.status, await ready.json()], [503, {
    status: 'not_ready', ready: false, checks: { starting: { ok: false, detail: 'sagad is starting: waiting for the store: PostgreSQL at x is unavailable' } },
  }]);
  const other = await fetch(`${base}/v1/instances`, { method: 'POST', body: '{}' });
  t.same([other.status, await other.json()], [503, {
    statusCode: 503, code: 'SAGA_ERR_NOT_READY', error: 'Service Unavailable', message: 'sagad is starting: waiting for the store: PostgreSQL at x is unavailable',
  }]);
  // A client that connected and sent nothing, and a keep-alive one: neither holds the handover.
  const idle = connect(s.port, '127.0.0.1');
  await new Promise<void>((resolve) => idle.once('connect', () => resolve()));
  await fetch(`${base}/healthz`, { keepalive: true });
  await s.close();
  const again = createServer();
  await new Promise<void>((resolve, reject) => { again.once('error', reject); again.listen(s.port, '127.0.0.1', () => resolve()); });
  t.pass('the port could be taken again');
  await new Promise<void>((resolve) => again.close(() => resolve()));
  idle.destroy();
});

t.test('over HTTPS, a connection stuck before its TLS handshake does not hold the handover', async (t) => {
  const pem = selfSignedCert(t.testdir());
  const s = await listenWhileStarting('127.0.0.1', 0, pem);
  const status = await new Promise<number | undefined>((resolve, reject) => {
    httpsRequest({ host: '127.0.0.1', port: s.port, path: '/healthz', ca: pem.cert }, (res) => { res.resume(); resolve(res.statusCode); }).on('error', reject).end();
  });
  t.equal(status, 200, 'it speaks HTTPS, as the API will');
  const stuck = connect(s.port, '127.0.0.1');
  await new Promise<void>((resolve) => stuck.once('connect', () => resolve()));
  const closedByServer = new Promise<void>((resolve) => stuck.once('close', () => resolve()));
  await s.close();
  await closedByServer;
  t.pass('closed, and the stuck connection with it (Node would wait out its 120 s handshake timeout)');
});
