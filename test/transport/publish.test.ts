import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { connectNats } from '../../engine/transport/connection.js';
import { ensureStreams } from '../../engine/transport/streams.js';
import { AckPipeline } from '../../engine/transport/pipeline.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { consume } from '../../engine/transport/consumer.js';
import type { InboundMessage } from '../../engine/transport/consumer.js';

t.test('publishing with Nats-Msg-Id and headers', async (t) => {
  const server = await startNatsServer();
  t.teardown(() => server.stop());
  const link = await connectNats({ url: server.url, jsTimeoutMs: 2_000 });
  t.teardown(() => link.close());
  await ensureStreams(link.jsm, ['inventory.commands'], 'create');
  const data = new TextEncoder().encode('{"hello":"world"}');
  const headers = { 'Saga-Id': 's-1', 'Saga-Step': 'reserve-inventory', 'Idempotency-Key': 's-1/reserve-inventory/do', traceparent: '00-abc-def-01' };

  const first = await publishEnvelope(link.js, 'inventory.commands', data, headers, 'id-1');
  t.match(first, { stream: 'INVENTORY', seq: 1, duplicate: false });
  const again = await publishEnvelope(link.js, 'inventory.commands', data, headers, 'id-1');
  t.match(again, { stream: 'INVENTORY', seq: 1, duplicate: true }, 'same id within the window is a duplicate');
  t.equal((await link.jsm.streams.info('INVENTORY')).state.messages, 1, 'stored once');

  t.match(await publishEnvelope(link.js, 'inventory.commands', data, headers, 'id-2'), { seq: 2, duplicate: false });
  t.match(await publishEnvelope(link.js, 'inventory.commands', data, headers, 'id-3'), { seq: 3, duplicate: false });
  await t.rejects(publishEnvelope(link.js, 'nowhere.commands', data, headers, 'id-x'), 'a subject without a stream is refused');

  const got: InboundMessage[] = [];
  let done: () => void = () => undefined;
  const allIn = new Promise<void>((r) => { done = r; });
  const sub = await consume(link, 'inventory.commands', async (m) => {
    got.push(m);
    if (got.length === 3) done();
    return 'ack';
  }, { stream: 'INVENTORY' });
  t.teardown(() => sub.stop());
  await allIn;
  t.same(got.map((m) => m.streamSequence), [1, 2, 3]);
  t.match(got[0], { subject: 'inventory.commands', data, deliveryCount: 1, redelivered: false, headers: { ...headers, 'Nats-Msg-Id': 'id-1' } });
  t.equal(got[1]?.headers['Nats-Msg-Id'], 'id-2');
});

t.test('the ack pipeline: PubAcks by reply subject, duplicates, a subject without a stream, close', async (t) => {
  const server = await startNatsServer();
  t.teardown(() => server.stop());
  const link = await connectNats({ url: server.url, jsTimeoutMs: 2_000 });
  t.teardown(() => link.close());
  await ensureStreams(link.jsm, ['inventory.commands'], 'create');
  const pipe = new AckPipeline(link.nc, 2_000);
  const data = new TextEncoder().encode('{"hello":"world"}');
  const headers = { 'Saga-Id': 's-1', traceparent: '00-abc-def-01', 'Nats-Msg-Id': 'ignored: msgId wins' };

  const items = Array.from({ length: 300 }, (_, i) => ({ subject: 'inventory.commands', data, headers, msgId: `id-${i}` }));
  const results = await pipe.publishAll([...items, { subject: 'nowhere.commands', data, headers, msgId: 'id-x' }, { subject: 'inventory.commands', data, headers, msgId: 'id-7' }]);
  t.same(results.slice(0, 300).map((r) => (r.ok ? [r.ack.stream, r.ack.seq, r.ack.duplicate] : r.error.message)),
    items.map((_, i) => ['INVENTORY', i + 1, false]), '300 at once, each acknowledged with its own sequence, in order');
  t.match(results[300], { ok: false, error: { message: /no JetStream stream captures nowhere.commands/ } }, 'a subject no stream captures fails alone');
  t.match(results[301], { ok: true, ack: { seq: 8, duplicate: true } }, 'a repeated id within the window is a duplicate');
  t.equal((await link.jsm.streams.info('INVENTORY')).state.messages, 300, 'stored once each');

  let first: (m: InboundMessage) => void = () => undefined;
  const firstIn = new Promise<InboundMessage>((r) => { first = r; });
  const sub = await consume(link, 'inventory.commands', async (m) => {
    first(m);
    return 'ack';
  }, { stream: 'INVENTORY' });
  t.teardown(() => sub.stop());
  t.match(await firstIn, { data, headers: { 'Saga-Id': 's-1', traceparent: '00-abc-def-01', 'Nats-Msg-Id': 'id-0' } }, 'headers as given, Nats-Msg-Id from msgId');

  // Closing fails what is still unanswered; answers after that are ignored.
  const pending = pipe.publish({ subject: 'inventory.commands', data, headers, msgId: 'late' });
  pipe.close();
  await t.rejects(pending, /closed before JetStream answered/);
});
