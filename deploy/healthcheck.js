// The container's healthcheck: GET /readyz where sagad listens (SAGA_HTTP_HOST, SAGA_HTTP_PORT,
// HTTPS when SAGA_TLS_CERT is set); healthy only on 200, so a sagad that lost NATS is unhealthy.
import { request as http } from 'node:http';
import { request as https } from 'node:https';

const host = process.env.SAGA_HTTP_HOST || '127.0.0.1';
// A wildcard address is not one to connect to: the probe asks loopback of the same family.
const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' || host === '[::]' ? '::1' : host.replace(/^\[|\]$/g, '');
const port = Number(process.env.SAGA_HTTP_PORT || 8080);
const secure = Boolean(process.env.SAGA_TLS_CERT);
// The certificate names the service, not the loopback address the probe uses.
const req = (secure ? https : http)({ host: target, port, path: '/readyz', timeout: 2500, rejectUnauthorized: false }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
req.end();
