import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../helpers/nats-server.js';
import { connectNats } from '../../engine/transport/connection.js';
import { ensureStreams } from '../../engine/transport/streams.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { consume } from '../../engine/transport/consumer.js';

t.test('connecting to nothing fails with a stable code', async (t) => {
  await t.rejects(connectNats({ url: 'nats://127.0.0.1:1', connectTimeoutMs: 1_000 }), { code: 'SAGA_ERR_NATS_UNAVAILABLE', message: /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/ });
});

t.test('the consumer survives a server restart on the same port and store', async (t) => {
  const storeDir = await mkdtemp(join(tmpdir(), 'sagad-reconnect-'));
  t.teardown(() => rm(storeDir, { recursive: true, force: true }));
  const server = await startNatsServer({ storeDir });
  t.teardown(() => server.stop());
  const logs: string[] = [];
  const link = await connectNats({ url: server.url, reconnectTimeWaitMs: 100, jsTimeoutMs: 2_000, log: (l, msg, f) => { logs.push(msg); t.comment(l, msg, JSON.stringify(f ?? {})); } });
  t.teardown(() => link.close());
  const changes: boolean[] = [];
  const waiters: { want: boolean; resolve: () => void }[] = [];
  link.onConnectionChange((c) => {
    changes.push(c);
    for (const w of waiters.splice(0)) if (w.want === c) w.resolve(); else waiters.push(w);
  });
  const connectedIs = (want: boolean) => new Promise<void>((resolve) => waiters.push({ want, resolve }));

  await ensureStreams(link.jsm, ['orders.events'], 'create');
  const bodies: string[] = [];
  const arrivals: { want: string; resolve: () => void }[] = [];
  const arrived = (want: string) => new Promise<void>((resolve) => {
    if (bodies.includes(want)) resolve(); else arrivals.push({ want, resolve });
  });
  const sub = await consume(link, 'orders.events', async (m) => {
    t.comment('got', m.deliveryCount);
    const body = new TextDecoder().decode(m.data);
    bodies.push(body);
    for (const a of arrivals) if (a.want === body) a.resolve();
    return 'ack';
  }, { stream: 'ORDERS', expiresMs: 1_000, log: (l, msg, f) => t.comment(l, msg, JSON.stringify(f ?? {})) });
  t.teardown(() => sub.stop());
  const send = (b: string) => publishEnvelope(link.js, 'orders.events', new TextEncoder().encode(b), {}, b);

  await send('before');
  await arrived('before');
  t.ok(link.isConnected(), 'connected at first');

  const down = connectedIs(false);
  server.kill9();
  await down;
  t.notOk(link.isConnected(), 'not connected while the server is down');
  const up = connectedIs(true);
  await server.restart();
  await up;
  t.ok(link.isConnected(), 'connected again');
  t.same(changes, [false, true]);
  t.ok(logs.includes('nats disconnected') && logs.includes('nats reconnected'), 'status changes logged');

  await send('after');
  await arrived('after');
  t.same(bodies, ['before', 'after'], 'consumer continued from its durable position');
});
