import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../helpers/nats-server.js';
import { connectNats, shownUrl } from '../../engine/transport/connection.js';
import { ensureStreams } from '../../engine/transport/streams.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { consume } from '../../engine/transport/consumer.js';
import { AckPipeline } from '../../engine/transport/pipeline.js';

t.test('connecting to nothing fails with a stable code', async (t) => {
  await t.rejects(connectNats({ url: 'nats://127.0.0.1:1', connectTimeoutMs: 1_000 }), { code: 'SAGA_ERR_NATS_UNAVAILABLE', message: /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/ });
});

t.test('a URL is shown without its user information: a password or token in it stays out of errors, logs and /readyz', async (t) => {
  const err = await connectNats({ url: 'nats://alice:s3cret@127.0.0.1:1', connectTimeoutMs: 1_000 }).catch((e: unknown) => e);
  t.match(err, { code: 'SAGA_ERR_NATS_UNAVAILABLE', message: /cannot connect to NATS at nats:\/\/\*\*\*@127\.0\.0\.1:1/ });
  t.notMatch((err as Error).message, /s3cret|alice/);
  t.equal(shownUrl('nats://tok3n@a:4222, tls://u:p@b:4222,nats://c:4222'), 'nats://***@a:4222, tls://***@b:4222,nats://c:4222');
  t.equal(shownUrl('nats://127.0.0.1:4222'), 'nats://127.0.0.1:4222', 'nothing to hide: unchanged');
});

t.test('a drain while the server is unreachable closes the connection instead of failing, so a shutdown ends', async (t) => {
  const server = await startNatsServer();
  const link = await connectNats({ url: server.url });
  const down = new Promise<void>((r) => link.onConnectionChange((up) => { if (!up) r(); }));
  await server.stop();
  await down;
  await link.drain();
  t.ok(link.nc.isClosed(), 'closed: it no longer tries to reconnect');
});

t.test('across a server restart: an unanswered publish times out, is stored once when sent again under its id, and the consumer goes on', async (t) => {
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

  // The outbox relay's publisher: while the server is away no PubAck can come, and it must say so.
  const acks = new AckPipeline(link.nc, 1_000);
  t.teardown(() => acks.close());
  const during = { subject: 'orders.events', data: new TextEncoder().encode('during'), headers: { 'Saga-Id': 's-1' }, msgId: 'during' };

  const down = connectedIs(false);
  server.kill9();
  await down;
  t.notOk(link.isConnected(), 'not connected while the server is down');
  const [lost] = await acks.publishAll([during]);
  t.match(lost, { ok: false, error: { message: /^no PubAck for a publish to orders\.events within 1000 ms$/ } }, 'the publish fails by its timeout');
  const up = connectedIs(true);
  await server.resume();
  await up;
  t.ok(link.isConnected(), 'connected again');
  t.same(changes, [false, true]);
  t.ok(logs.includes('nats disconnected') && logs.includes('nats reconnected'), 'status changes logged');

  // Sent again as the relay does, under the same Nats-Msg-Id: whether or not the first copy
  // reached the stream after the reconnect, the stream holds it once.
  const [again] = await acks.publishAll([during]);
  t.match(again, { ok: true, ack: { stream: 'ORDERS' } }, 'sent again, it is acknowledged');
  await send('after');
  await arrived('after');
  t.same(bodies, ['before', 'during', 'after'], 'the consumer continued from its durable position and got the message once');
  const info = await link.jsm.streams.info('ORDERS');
  t.equal(info.state.messages, 3, 'the stream holds each message once');
});
