import { join } from 'node:path';
import t from 'tap';
import { capped, messageFields, MAX_HEADER_FIELD, type LogFn } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import { REDRIVE_HEADER } from '../../engine/runtime/redrive.js';
import { Registry } from '../../engine/runtime/registry.js';
import { serveStartRequests } from '../../engine/runtime/start-requests.js';
import { openStore } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import type { InboundMessage } from '../../engine/transport/consumer.js';
import { connectNats } from '../../engine/transport/connection.js';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * What a publisher can make sagad log: header values it chose are cut before a line copies
 * them, a flood of redriven-looking messages that concern no saga is one line per outcome
 * and interval, and failed `sagas.start.*` requests are throttled by the failure, not by the
 * subject the sender picked.
 */
const defs = sagasOf(`
version: 1
sagas:
  - name: shop
    start:
      on: { subject: shop.events, type: OrderPlaced }
      key: "{% $input.orderId %}"
    steps:
      - name: only
        pivot: true
        command: { subject: shop.commands, type: Do, payload: {} }
        reply: { subject: shop.replies, success: [Done] }
        timeout: 10s
`);

interface Line { level: string; msg: string; fields: Record<string, unknown> }

function recorder(): { log: LogFn; lines: Line[] } {
  const lines: Line[] = [];
  return { lines, log: (level, msg, fields) => { lines.push({ level, msg, fields: fields ?? {} }); } };
}

t.test('messageFields cuts every header value it copies, saying how long it was', async (t) => {
  const long = 'X'.repeat(30_000);
  const f = messageFields({ 'Saga-Id': long, 'Saga-Name': long, 'Saga-Step': long, traceparent: long });
  for (const k of ['instance', 'saga', 'step']) {
    t.equal(f[k], `${'X'.repeat(MAX_HEADER_FIELD)}… (30000 characters)`, `${k} is cut to ${MAX_HEADER_FIELD} characters`);
  }
  t.notOk('traceId' in f, 'a malformed traceparent gives no traceId');
  t.same(messageFields({ 'Saga-Id': 'i-1', 'Saga-Name': 'shop', 'Saga-Step': 'only' }), { instance: 'i-1', saga: 'shop', step: 'only' }, 'short values are copied as they are');
  t.equal(capped('x'.repeat(MAX_HEADER_FIELD)), 'x'.repeat(MAX_HEADER_FIELD), 'a value of exactly the limit is kept whole');
});

t.test('redriven-looking messages that change nothing: one line per outcome, values cut', async (t) => {
  const store = openStore(join(t.testdir(), 'flood.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  const { log, lines } = recorder();
  const engine = new Engine({ store: port, registry: new Registry(defs), log });
  const handle = inboundHandler(engine, port, log);
  const big = 'R'.repeat(30_000);
  const message = (eventId: string): InboundMessage => ({
    subject: 'shop.events',
    data: encodeEnvelope({ eventId, eventType: 'NobodyAwaitsThis', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId: 'c', causationId: null, payload: {} }),
    headers: { [REDRIVE_HEADER]: big, 'Saga-Name': big },
    deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: 1,
  });
  const verdicts = new Set<unknown>();
  for (let i = 0; i < 200; i++) verdicts.add(await handle(message(`ev-unrelated-${i}`)));
  t.same([...verdicts], ['ack'], 'each is acked');
  const redrive = lines.filter((l) => l.msg === 'a redriven dead letter changed nothing');
  t.same(redrive.map((l) => l.fields.outcome), ['unrelated'], 'one line for all 200');
  const bytes = lines.reduce((n, l) => n + JSON.stringify(l).length, 0);
  t.ok(bytes < 5_000, `the whole log of 200 such messages is small (${bytes} bytes)`);
  const line = redrive[0];
  t.equal(line?.fields.deadLetter, `${'R'.repeat(MAX_HEADER_FIELD)}… (30000 characters)`, 'the header value is cut');
  t.equal(line?.fields.saga, `${'R'.repeat(MAX_HEADER_FIELD)}… (30000 characters)`, 'and so is Saga-Name through messageFields');
});

t.test('failed start requests on many subjects the sender picked: one line', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const link = await connectNats({ url: nats.url });
  t.teardown(() => link.close());
  const store = openStore(join(t.testdir(), 'starts.db'));
  t.teardown(() => store.close());
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(defs), log: () => undefined });
  const { log, lines } = recorder();
  const sub = serveStartRequests(link.nc, engine, log);
  t.teardown(() => sub.unsubscribe());
  await link.nc.flush();
  const failed = () => lines.filter((l) => l.msg.startsWith('a start request without a reply subject failed'));

  // Garbage (not an envelope) on 300 subjects, published without a reply subject.
  for (let i = 0; i < 300; i++) link.nc.publish(`sagas.start.nosuch${i}`, 'garbage');
  await link.nc.flush();
  await until(() => failed().length > 0, 'the first refusal to be logged');
  // Valid envelopes for 300 unknown sagas of different names: the sentence names each.
  const names = Array.from({ length: 300 }, () => uuidv7().replaceAll('-', '').slice(-12).replace(/\d/g, 'q'));
  for (const name of names) {
    link.nc.publish(`sagas.start.x${name}`, encodeEnvelope({
      eventId: uuidv7(), eventType: 'StartSaga', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId: 'c', causationId: null, payload: { input: {} },
    }));
  }
  await link.nc.flush();
  // Every request is handled in the callback; the unknown sagas' refusals come after a turn of the engine.
  await until(() => failed().some((l) => l.fields.code === 'SAGA_ERR_UNKNOWN_SAGA'), 'the unknown saga refusal to be logged');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.same(failed().map((l) => l.fields.code), ['SAGA_ERR_INVALID_MESSAGE', 'SAGA_ERR_UNKNOWN_SAGA'], 'one line per kind of failure, whatever the subjects');
});
