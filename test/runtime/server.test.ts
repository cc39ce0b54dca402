import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Msg } from '@nats-io/transport-node';
import t from 'tap';
import { loadDefinitionsText } from '../../engine/definitions/index.js';
import { loadConfig } from '../../engine/config.js';
import { uuidv7 } from '../../engine/ids.js';
import type { LogFn } from '../../engine/log.js';
import { startSagad, type Sagad as RunningServer } from '../../engine/main.js';
import { openStore } from '../../engine/store/index.js';
import { connectNats, type NatsLink } from '../../engine/transport/connection.js';
import { encodeEnvelope, parseEnvelope, type Envelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/sagad.js';

/**
 * The server wired in this process (startSagad, the composition root) against a real nats-server and a SQLite
 * file: triggers and replies come in through the durable consumers, commands and lifecycle
 * events go out through the outbox relay, `sagas.start.<name>` answers after the commit,
 * attempt timeouts fire from the durable timers, and stop() drains. A participant answers
 * the commands in this process over NATS.
 */
const defs = loadDefinitionsText(`
version: 1
sagas:
  - name: parcel
    start:
      on: { subject: rt.orders, type: OrderPlaced }
      key: "{% $input.orderId %}"
    timeout: 10m
    steps:
      - name: pack
        command: { subject: rt.commands, type: Pack, payload: { orderId: "{% $input.orderId %}" } }
        reply: { subject: rt.events, success: [Packed], failure: [PackRefused] }
        timeout: 400ms
        retry: { maxAttempts: 3, initialInterval: 50ms, maxInterval: 100ms }
        compensate:
          command: { subject: rt.commands, type: Unpack, payload: { orderId: "{% $input.orderId %}" } }
          reply: { subject: rt.events, success: [Unpacked] }
      - name: ship
        command: { subject: rt.commands, type: Ship, payload: { orderId: "{% $input.orderId %}" } }
        reply: { subject: rt.events, success: [Shipped], failure: [ShipRefused] }
        timeout: 400ms
        pivot: true
  - name: slow-parcel
    start:
      on: { subject: rt.slow-orders, type: OrderPlaced }
      key: "{% $input.orderId %}"
    timeout: 10m
    steps:
      - name: pack
        command: { subject: rt.commands, type: Pack, payload: { orderId: "{% $input.orderId %}" } }
        reply: { subject: rt.events, success: [Packed], failure: [PackRefused] }
        timeout: 5s
        retry: { maxAttempts: 3, initialInterval: 50ms, maxInterval: 100ms }
        compensate:
          command: { subject: rt.commands, type: Unpack, payload: { orderId: "{% $input.orderId %}" } }
          reply: { subject: rt.events, success: [Unpacked] }
      - name: ship
        command: { subject: rt.commands, type: Ship, payload: { orderId: "{% $input.orderId %}" } }
        reply: { subject: rt.events, success: [Shipped], failure: [ShipRefused] }
        timeout: 5s
        pivot: true
`, 'server-test.yaml');
if (!defs.ok) throw new Error(`definitions do not load: ${JSON.stringify(defs.errors)}`);

const nats = await startNatsServer();
t.teardown(() => nats.stop());
const link: NatsLink = await connectNats({ url: nats.url, name: 'server-test' });
t.teardown(() => link.close());

interface Received { type: string; orderId: string; attempt: number; sagaId: string }

/**
 * Answers Pack, Ship and Unpack on rt.events. The order id says how: `refuse-ship` answers
 * ShipRefused, `silent-pack` leaves the first Pack attempt unanswered.
 */
function participant() {
  const received: Received[] = [];
  const sub = link.nc.subscribe('rt.commands', {
    callback: (_err, m: Msg) => {
      const parsed = parseEnvelope(m.data);
      if (!parsed.ok) return;
      const cmd = parsed.envelope;
      const orderId = String((cmd.payload as { orderId?: unknown }).orderId);
      const attempt = Number(m.headers?.get('Saga-Attempt') ?? 0);
      received.push({ type: cmd.eventType, orderId, attempt, sagaId: m.headers?.get('Saga-Id') ?? '' });
      if (cmd.eventType === 'Pack' && orderId.includes('silent-pack') && attempt === 1) return;
      const type = cmd.eventType === 'Pack' ? 'Packed' : cmd.eventType === 'Unpack' ? 'Unpacked' : orderId.includes('refuse-ship') ? 'ShipRefused' : 'Shipped';
      const reply: Envelope = {
        eventId: uuidv7(), eventType: type, aggregateId: orderId, timestamp: new Date().toISOString(), version: 1,
        correlationId: cmd.correlationId, causationId: cmd.eventId, payload: { orderId },
      };
      void publishEnvelope(link.js, 'rt.events', encodeEnvelope(reply), {}, reply.eventId);
    },
  });
  return { received, stop: () => sub.unsubscribe() };
}

/** A log that keeps what was logged, to assert that nothing went wrong. */
function recordingLog() {
  const lines: { level: string; msg: string }[] = [];
  const log: LogFn = (level, msg) => { lines.push({ level, msg }); };
  return { log, errors: () => lines.filter((l) => l.level === 'error').map((l) => l.msg), lines };
}

/** Starts sagad in this process on `dbFile`, as main.ts does, with the file's definitions. */
function startServer(dbFile: string, log: LogFn): Promise<RunningServer> {
  const config = loadConfig({
    SAGA_DB: dbFile, NATS_URL: nats.url, SAGA_HTTP_HOST: '127.0.0.1', SAGA_HTTP_PORT: '0', SAGA_SYNCHRONOUS: 'NORMAL', SAGA_SNAPSHOT_EVERY: '50',
  });
  return startSagad(config, defs.ok ? defs.sagas : [], log);
}

const trigger = (orderId: string): Envelope => ({
  eventId: uuidv7(), eventType: 'OrderPlaced', aggregateId: orderId, timestamp: new Date().toISOString(), version: 1,
  correlationId: `corr-${orderId}`, causationId: null, payload: { orderId },
});

const settled = (server: RunningServer, id: string) => waitFor(async () => {
  const s = await server.engine.getInstance(id);
  return s !== undefined && ['completed', 'compensated', 'failed'].includes(s.status) ? s : undefined;
}, 20_000, { what: `instance ${id} to settle` });

const byKey = (server: RunningServer, key: string) => waitFor(async () => (await server.engine.listInstances({ key, limit: 10 })).items[0], 20_000, { what: `an instance for ${key}` });

/** Sends `sagas.start.<saga>` and returns the JSON answer. */
async function startRequest(saga: string, data: Uint8Array): Promise<Record<string, unknown>> {
  const answer = await link.nc.request(`sagas.start.${saga}`, data, { timeout: 10_000 });
  return JSON.parse(new TextDecoder().decode(answer.data)) as Record<string, unknown>;
}

// One server for the subtests in turn, on a database in the file's own directory (a subtest's
// testdir is removed when the subtest ends).
const one = { server: null as RunningServer | null, log: recordingLog(), dir: t.testdir() };
const p = participant();
t.teardown(() => p.stop());

t.test('a trigger event on its subject starts a saga that runs to the end over NATS', async (t) => {
  one.server = await startServer(join(one.dir, 'sagad.db'), one.log.log);
  const server = one.server;
  const ready = await fetch(`${server.httpUrl}/readyz`);
  t.equal(ready.status, 200, 'ready once streams and consumers are set up');
  t.match(await ready.json(), { ready: true, checks: { nats: { ok: true }, streams: { ok: true }, consumers: { ok: true } } });

  const lifecycle: string[] = [];
  const events = link.nc.subscribe('sagas.events', { callback: (_e, m) => { const e = parseEnvelope(m.data); if (e.ok) lifecycle.push(e.envelope.eventType); } });
  t.teardown(() => events.unsubscribe());
  const e = trigger('o-plain');
  await publishEnvelope(link.js, 'rt.orders', encodeEnvelope(e), {}, e.eventId);
  const started = await byKey(server, 'o-plain');
  const done = await settled(server, started.id);
  t.equal(done.status, 'completed');
  t.equal(done.correlationId, 'corr-o-plain', 'the trigger\'s correlation id is the saga\'s');
  t.same(p.received.filter((r) => r.orderId === 'o-plain').map((r) => [r.type, r.attempt, r.sagaId]), [['Pack', 1, started.id], ['Ship', 1, started.id]], 'each command once, in order, naming the saga');
  const doc = await (await fetch(`${server.httpUrl}/v1/instances/${started.id}`)).json() as { state: string };
  t.equal(doc.state, 'completed', 'the HTTP API serves the instance');
  await waitFor(async () => lifecycle.includes('SagaCompleted') || undefined, 10_000, { what: 'SagaCompleted on sagas.events' });
  t.ok(lifecycle.includes('SagaStarted'), 'lifecycle events are published', { lifecycle });

  // The same trigger again (a redelivery from the publisher's side, new message id) starts nothing new.
  await publishEnvelope(link.js, 'rt.orders', encodeEnvelope(e), {}, `${e.eventId}-again`);
  const after = trigger('o-after-dup');
  await publishEnvelope(link.js, 'rt.orders', encodeEnvelope(after), {}, after.eventId);
  await settled(server, (await byKey(server, 'o-after-dup')).id);
  t.equal((await server.engine.listInstances({ key: 'o-plain', limit: 10 })).items.length, 1, 'one instance for the key');
});

t.test('a refused step is compensated; the undo command goes out and is answered', async (t) => {
  const server = one.server;
  if (server === null) throw new Error('no server');
  const e = trigger('o-refuse-ship');
  await publishEnvelope(link.js, 'rt.orders', encodeEnvelope(e), {}, e.eventId);
  const done = await settled(server, (await byKey(server, 'o-refuse-ship')).id);
  t.equal(done.status, 'compensated');
  t.same(p.received.filter((r) => r.orderId === 'o-refuse-ship').map((r) => r.type), ['Pack', 'Ship', 'Unpack']);
});

t.test('an unanswered attempt times out on its durable timer and the retry completes the saga', async (t) => {
  const server = one.server;
  if (server === null) throw new Error('no server');
  const e = trigger('o-silent-pack');
  await publishEnvelope(link.js, 'rt.orders', encodeEnvelope(e), {}, e.eventId);
  const done = await settled(server, (await byKey(server, 'o-silent-pack')).id);
  t.equal(done.status, 'completed');
  t.same(p.received.filter((r) => r.orderId === 'o-silent-pack').map((r) => [r.type, r.attempt]), [['Pack', 1], ['Pack', 2], ['Ship', 1]]);
});

t.test('sagas.start.<name> answers after the commit; a repeated request starts nothing new', async (t) => {
  const server = one.server;
  if (server === null) throw new Error('no server');
  const request = trigger('o-request');
  const body = encodeEnvelope({ ...request, eventType: 'StartSaga', payload: { input: { orderId: 'o-request' } } });
  const first = await startRequest('parcel', body);
  t.match(first, { id: request.eventId, state: 'running', created: true }, 'the envelope\'s eventId names the instance');
  t.ok(await server.engine.getInstance(request.eventId), 'committed before the answer');
  t.match(await startRequest('parcel', body), { id: request.eventId, created: false }, 'the same request again');
  t.equal((await settled(server, request.eventId)).status, 'completed');

  const named = encodeEnvelope({ ...trigger('o-named'), payload: { input: { orderId: 'o-named' }, id: 'named-1', key: 'k-named' } });
  t.match(await startRequest('parcel', named), { id: 'named-1', created: true });
  t.equal((await server.engine.getInstance('named-1'))?.key, 'k-named', 'payload.key is the key');
  t.equal((await settled(server, 'named-1')).status, 'completed');

  const traced = encodeEnvelope({ ...trigger('o-traced'), correlationId: 'corr-given', payload: { input: { orderId: 'o-traced' }, id: 'traced-1' } });
  await startRequest('parcel', traced);
  t.equal((await server.engine.getInstance('traced-1'))?.correlationId, 'corr-given', 'the request\'s correlation id is the saga\'s');
  const untraced = encodeEnvelope({ ...trigger('o-untraced'), correlationId: '', payload: { input: { orderId: 'o-untraced' }, id: 'untraced-1' } });
  await startRequest('parcel', untraced);
  t.match((await server.engine.getInstance('untraced-1'))?.correlationId, /.+/, 'an empty correlation id is replaced by a fresh one');
  await settled(server, 'traced-1');
  await settled(server, 'untraced-1');

  t.match(await startRequest('parcel', new TextEncoder().encode('not json')), { error: { code: 'SAGA_ERR_INVALID_MESSAGE' } });
  const badKey = encodeEnvelope({ ...trigger('o-bad-key'), payload: { input: { orderId: 'o-bad-key' }, key: 7 } });
  t.match(await startRequest('parcel', badKey), { error: { code: 'SAGA_ERR_INVALID_INPUT' } });
  const badId = encodeEnvelope({ ...trigger('o-bad-id'), payload: { input: { orderId: 'o-bad-id' }, id: 7 } });
  t.match(await startRequest('parcel', badId), { error: { code: 'SAGA_ERR_INVALID_INPUT' } });
  t.match(await startRequest('no-such-saga', encodeEnvelope(trigger('o-unknown'))), { error: { code: 'SAGA_ERR_UNKNOWN_SAGA' } });
  t.same((await server.engine.listInstances({ key: 'o-bad-key', limit: 10 })).items, [], 'a refused request starts nothing');
});

t.test('stop() drains and closes; a server on the same database fires the timer that fell due meanwhile', async (t) => {
  const server = one.server;
  if (server === null) throw new Error('no server');
  // slow-parcel's attempts time out after 5 s: the first one, left unanswered, falls due
  // while no server runs.
  const e = trigger('o-silent-pack-restart');
  await publishEnvelope(link.js, 'rt.slow-orders', encodeEnvelope(e), {}, e.eventId);
  const started = await byKey(server, 'o-silent-pack-restart');
  await waitFor(async () => p.received.some((r) => r.orderId === 'o-silent-pack-restart') || undefined, 10_000, { what: 'the first Pack' });
  const stopping = server.stop();
  t.equal(server.stop(), stopping, 'a second stop() is the same drain');
  await stopping;
  t.same(one.log.errors(), [], 'nothing logged as an error while running and draining');
  t.ok(one.log.lines.some((l) => l.msg === 'stopped'), 'it logged that it stopped');
  await t.rejects(server.store.nextDueAt(), 'the store is closed');

  const db = openStore(join(one.dir, 'sagad.db'));
  const due = Math.min(...db.timersOf(started.id).map((r) => r.dueAt));
  db.close();
  await delay(Math.max(0, due - Date.now() + 50));
  const log = recordingLog();
  const again = await startServer(join(one.dir, 'sagad.db'), log.log);
  t.teardown(() => again.stop());
  const done = await settled(again, started.id);
  t.equal(done.status, 'completed', 'the overdue attempt timeout fired after the restart and the retry was answered');
  t.same(p.received.filter((r) => r.orderId === 'o-silent-pack-restart').map((r) => [r.type, r.attempt]), [['Pack', 1], ['Pack', 2], ['Ship', 1]]);
  t.same(log.errors(), []);
});
