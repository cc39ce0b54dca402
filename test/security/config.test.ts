import t from 'tap';
import { isLoopback, loadConfig } from '../../engine/config.js';

/** The problems loadConfig reports for `env`, or [] when it accepts it. */
function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

t.test('a non-loopback address without a token is refused unless SAGA_HTTP_INSECURE=true', async (t) => {
  t.match(problems({ SAGA_HTTP_HOST: '0.0.0.0' }), 'SAGA_HTTP_HOST=0.0.0.0 is reachable from other machines but SAGA_API_TOKEN is unset');
  t.match(problems({ SAGA_HTTP_HOST: '10.1.2.3' }), 'set a token, bind to 127.0.0.1, or set SAGA_HTTP_INSECURE=true');
  t.equal(problems({ SAGA_HTTP_HOST: '0.0.0.0', SAGA_API_TOKEN: 't' }), '');
  t.equal(problems({ SAGA_HTTP_HOST: '0.0.0.0', SAGA_HTTP_INSECURE: 'TRUE' }), '', 'insecure, case-insensitive');
  t.match(problems({ SAGA_HTTP_HOST: '0.0.0.0', SAGA_HTTP_INSECURE: 'no' }), 'SAGA_HTTP_INSECURE="no": must be true or false');
  for (const host of ['127.0.0.1', '127.0.0.53', 'localhost', '::1', '[::1]']) t.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '192.168.1.1', 'sagad.internal']) t.notOk(isLoopback(host), host);
});

t.test('the read-only token, metrics and HTTPS settings', async (t) => {
  const c = loadConfig({ SAGA_API_TOKEN: 'a', SAGA_API_READ_TOKEN: 'r', SAGA_METRICS_PUBLIC: 'false', SAGA_TLS_CERT: '/c.pem', SAGA_TLS_KEY: '/k.pem', SAGA_HTTP_BODY_LIMIT: '65536' });
  t.match({ ...c }, { apiToken: 'a', apiReadToken: 'r', metricsPublic: false, tlsCert: '/c.pem', tlsKey: '/k.pem', httpBodyLimit: 65536 });
  t.match(problems({ SAGA_API_READ_TOKEN: 'r' }), 'SAGA_API_READ_TOKEN needs SAGA_API_TOKEN');
  t.match(problems({ SAGA_API_TOKEN: 'same', SAGA_API_READ_TOKEN: 'same' }), 'SAGA_API_READ_TOKEN must differ from SAGA_API_TOKEN');
  t.match(problems({ SAGA_METRICS_PUBLIC: 'false' }), 'SAGA_METRICS_PUBLIC=false needs SAGA_API_TOKEN');
  t.match(problems({ SAGA_TLS_CERT: '/c.pem' }), 'SAGA_TLS_CERT and SAGA_TLS_KEY go together');
  t.match(problems({ SAGA_HTTP_BODY_LIMIT: '10' }), 'SAGA_HTTP_BODY_LIMIT="10": must be an integer from 1024');
});

t.test('NATS credentials: one way at a time, in pairs, and only with NATS_URL', async (t) => {
  const url = { NATS_URL: 'tls://nats.internal:4222' };
  const c = loadConfig({ ...url, NATS_USER: 'u', NATS_PASSWORD: 'p', NATS_TLS_CA: '/ca.pem' });
  t.match({ ...c }, { natsUser: 'u', natsPassword: 'p', natsTlsCa: '/ca.pem' });
  t.match(problems({ ...url, NATS_TOKEN: 't', NATS_CREDS: '/x.creds' }), 'set only one way to authenticate');
  t.match(problems({ ...url, NATS_USER: 'u' }), 'NATS_USER and NATS_PASSWORD go together');
  t.match(problems({ ...url, NATS_TLS_CERT: '/c.pem' }), 'NATS_TLS_CERT and NATS_TLS_KEY go together');
  t.match(problems({ NATS_TOKEN: 't' }), 'NATS credentials and TLS settings need NATS_URL');
});

t.test('SAGA_EXPR_TIMEOUT is milliseconds from 1 to 60000, default 50', async (t) => {
  t.equal(loadConfig({}).exprTimeoutMs, 50);
  t.equal(loadConfig({ SAGA_EXPR_TIMEOUT: '200' }).exprTimeoutMs, 200);
  t.match(problems({ SAGA_EXPR_TIMEOUT: '0' }), 'SAGA_EXPR_TIMEOUT="0": must be an integer from 1 to 60000');
});

t.test('problems of several kinds are all reported at once', async (t) => {
  const message = problems({ SAGA_HTTP_HOST: '0.0.0.0', NATS_TOKEN: 'x', SAGA_TLS_KEY: '/k' });
  t.match(message, /invalid configuration \(3 problems\)/);
});
