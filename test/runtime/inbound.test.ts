import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { until } from '../helpers/until.js';
import { Engine } from '../../engine/runtime/engine.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import type { InboundMessage } from '../../engine/transport/consumer.js';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * The inbound handler (engine/runtime/inbound.ts) over a real engine and SQLite file: the
 * verdict for each kind of message (ack once durable, park what can never be processed or
 * fails on its last delivery, naks with backoff otherwise), a dead letter parked once per
 * delivery, and a store that cannot write (a second connection holds SQLite's write lock):
 * the message is held and tried again, not counted against its deliveries.
 */
const defs = sagasOf(`
version: 1
sagas:
  - name: shop
    start:
      on: { subject: shop.events, type: OrderPlaced }
      key: "{% $input.orderId %}"
    schemas:
      OrderPlaced@1: { type: object, required: [orderId], properties: { orderId: { type: string } } }
    steps:
      - name: only
        pivot: true
        command: { subject: shop.commands, type: Do, payload: {} }
        reply: { subject: shop.replies, success: [Done] }
        timeout: 10s
`);

interface Line { level: string; msg: string; fields?: Record<string, unknown> }

function world(t: { testdir(): string; teardown(fn: () => unknown): void }) {
  const file = join(t.testdir(), 'inbound.db');
  // A short busy timeout: a held write lock fails a commit at once with SQLITE_BUSY.
  const store = openStore(file, { busyTimeout: 20 });
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  const logs: Line[] = [];
  const log = (level: string, msg: string, fields?: Record<string, unknown>) => { logs.push({ level, msg, fields }); };
  const engine = new Engine({ store: port, registry: new Registry(defs), log });
  const handle = inboundHandler(engine, port, log);
  return { file, store, engine, handle, logs };
}

let n = 0;
function message(subject: string, env: Record<string, unknown> | Uint8Array, over: Partial<InboundMessage> = {}): InboundMessage {
  const data = env instanceof Uint8Array ? env : encodeEnvelope({
    eventId: `ev-${++n}`, eventType: 'X', aggregateId: 'a', timestamp: new Date(0).toISOString(), version: 1, correlationId: 'corr', causationId: null, payload: {},
    ...env,
  } as Parameters<typeof encodeEnvelope>[0]);
  return { subject, data, headers: { h: '1' }, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: 1, ...over };
}

const garbage = new TextEncoder().encode('{not json');
const counted = async (engine: Engine, outcome: string) => {
  const line = (await engine.metrics()).split('\n').find((l) => l.startsWith(`sagad_messages_total{outcome="${outcome}"} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
};

/** Holds SQLite's write lock from a second connection until released. */
function holdWriteLock(file: string) {
  const other = new Database(file);
  other.prepare('BEGIN IMMEDIATE').run();
  return () => { other.prepare('ROLLBACK').run(); other.close(); };
}


t.test('a message that is no envelope is parked once per delivery, with its bytes, headers and reason', async (t) => {
  const w = world(t);
  const m = message('shop.replies', garbage, { streamSequence: 7, deliveryCount: 2 });
  t.equal(await w.handle(m), 'ack');
  const [dead] = w.store.listDead({}).items;
  t.match(dead, { subject: 'shop.replies', headers: { h: '1' }, deliveryCount: 2, reason: /not a JSON envelope/ });
  t.equal(new TextDecoder().decode(w.store.getDead(dead!.id)?.data), '{not json');
  t.equal(await counted(w.engine, 'dead_lettered'), 1);
  t.match(w.logs.filter((l) => l.msg === 'message dead-lettered'), [{ level: 'warn', fields: { subject: 'shop.replies', reason: /not a JSON envelope/ } }]);
  // The same delivery again (a crash after parking, before the ack): acked, not parked twice.
  t.equal(await w.handle(m), 'ack');
  t.equal(w.store.listDead({}).items.length, 1);
  t.equal(await counted(w.engine, 'dead_lettered'), 1, 'not counted again');
  // Another delivery of other bytes on the same sequence, or the same bytes on another sequence, is another dead letter.
  t.equal(await w.handle({ ...m, data: new TextEncoder().encode('also not json') }), 'ack');
  t.equal(await w.handle({ ...m, streamSequence: 8 }), 'ack');
  t.equal(w.store.listDead({}).items.length, 3);
  t.equal(await counted(w.engine, 'dead_lettered'), 3);
});

t.test('each processed message is acked and counted by what it was', async (t) => {
  const w = world(t);
  t.equal(await w.handle(message('shop.events', { eventType: 'OrderPlaced', payload: { orderId: 'o-1' } })), 'ack');
  const [inst] = w.store.listInstances({}).items;
  const cmd = w.store.getInstance(inst!.id)!.steps.only!.commands[0]!;
  const reply = message('shop.replies', { eventType: 'Done', causationId: cmd });
  t.equal(await w.handle(reply), 'ack');
  t.equal(await w.handle(reply), 'ack');
  t.equal(await w.handle(message('shop.replies', { eventType: 'Done' })), 'ack', 'no causation id: nothing to reply to');
  t.same(await Promise.all(['trigger', 'reply', 'duplicate', 'unrelated'].map((o) => counted(w.engine, o))), [1, 1, 1, 1]);
  t.equal(w.store.getInstance(inst!.id)?.status, 'completed');
});

t.test('a message that can never be processed is parked at once with the engine\'s reason', async (t) => {
  const w = world(t);
  t.equal(await w.handle(message('shop.events', { eventType: 'OrderPlaced', payload: { orderId: 5 } })), 'ack');
  t.match(w.store.listDead({}).items, [{ reason: /^input does not match the OrderPlaced@1 schema of saga shop: / }]);
  t.equal(w.store.listInstances({}).items.length, 0);
});

t.test('a message that fails otherwise is redelivered with backoff, and parked on its last delivery', async (t) => {
  const w = world(t);
  t.equal(await w.handle(message('shop.events', { eventType: 'OrderPlaced', payload: { orderId: 'o-2' } })), 'ack');
  const [inst] = w.store.listInstances({}).items;
  const cmd = w.store.getInstance(inst!.id)!.steps.only!.commands[0]!;
  // An engine that lost the instance's definition (neither loaded nor stored): the reply fails, not for good.
  const port = sqlitePort(w.store);
  const logs: Line[] = [];
  const handle = inboundHandler(new Engine({ store: port, registry: new Registry([]), log: () => undefined }), port, (level, msg, fields) => { logs.push({ level, msg, fields }); });
  const reply = message('shop.replies', { eventType: 'Done', causationId: cmd, eventId: 'rep-1' });
  t.same(await handle(reply), { nakDelayMs: 1000 }, 'first delivery: 1 s');
  t.same(await handle({ ...reply, deliveryCount: 3 }), { nakDelayMs: 4000 }, 'third: 4 s');
  t.same(await handle({ ...reply, deliveryCount: 7 }), { nakDelayMs: 30_000 }, 'capped at 30 s');
  t.match(logs[0], { level: 'warn', msg: 'message failed; it will be redelivered', fields: { subject: 'shop.replies', eventId: 'rep-1', error: /neither loaded nor stored/ } });
  t.equal(w.store.listDead({}).items.length, 0);
  t.equal(await handle({ ...reply, deliveryCount: 5, lastAttempt: true }), 'ack');
  t.match(w.store.listDead({}).items, [{ reason: /^failed on its last delivery \(5\): instance .* neither loaded nor stored$/ }]);
});

t.test('while the store cannot write, the message is held and tried again; it commits once the store is back', async (t) => {
  const w = world(t);
  const release = holdWriteLock(w.file);
  let verdict: unknown = null;
  const p = w.handle(message('shop.events', { eventType: 'OrderPlaced', eventId: 'held-1', payload: { orderId: 'o-3' } })).then((v) => { verdict = v; });
  await until(() => w.logs.filter((l) => l.msg === 'the store failed; the message is held and tried again').length >= 2, 'two failed tries');
  t.equal(verdict, null, 'not answered while the store fails');
  t.match(w.logs.find((l) => l.msg.startsWith('the store failed')), { level: 'warn', fields: { subject: 'shop.events', eventId: 'held-1', failures: 1, error: /locked|busy/i } });
  t.match(w.logs.filter((l) => l.msg.startsWith('the store failed'))[1], { fields: { failures: 2 } });
  release();
  await p;
  t.equal(verdict, 'ack');
  t.equal(w.store.listInstances({}).items.length, 1, 'the start committed');
  t.equal(w.store.listDead({}).items.length, 0, 'nothing parked');
});

t.test('a message to park while the store cannot write is held too, without an event id when it has none', async (t) => {
  const w = world(t);
  const release = holdWriteLock(w.file);
  const p = w.handle(message('shop.replies', garbage));
  await until(() => w.logs.some((l) => l.msg.startsWith('the store failed')), 'a failed try');
  const held = w.logs.find((l) => l.msg.startsWith('the store failed'));
  t.notOk(held?.fields !== undefined && 'eventId' in held.fields, 'no event id to log');
  release();
  t.equal(await p, 'ack');
  t.equal(w.store.listDead({}).items.length, 1);
});

t.test('draining, a failing store lets the message go back to JetStream', async (t) => {
  const w = world(t);
  w.engine.draining = true;
  const release = holdWriteLock(w.file);
  t.teardown(release);
  t.same(await w.handle(message('shop.events', { eventType: 'OrderPlaced', payload: { orderId: 'o-4' } })), { nakDelayMs: 1000 });
  t.equal(w.logs.filter((l) => l.msg.startsWith('the store failed')).length, 0, 'not held');
});

const metricLine = async (engine: Engine, line: string) => (await engine.metrics()).split('\n').includes(line);

t.test('each permanent failure is counted under its own reason, with the message\'s saga headers in the log', async (t) => {
  const w = world(t);
  const headers = { 'Saga-Id': 'inst-9', 'Saga-Name': 'shop', 'Saga-Step': 'only' };
  t.equal(await w.handle(message('shop.replies', garbage, { headers })), 'ack');
  t.equal(await w.handle(message('shop.events', { eventType: 'OrderPlaced', payload: { orderId: 5 } })), 'ack');
  t.equal(await w.handle(message('shop.events', { eventType: 'OrderPlaced', payload: { orderId: 'o-c' } })), 'ack');
  const [inst] = w.store.listInstances({}).items;
  const cmd = w.store.getInstance(inst!.id)!.steps.only!.commands[0]!;
  t.equal(await w.handle(message('shop.replies', { eventType: 'Done', causationId: cmd, correlationId: 'someone-else' })), 'ack');
  t.equal(await w.handle(message('shop.events', { eventType: 'OrderPlaced', version: 2, payload: { orderId: 'o-v2' } })), 'ack');
  for (const [reason, n] of [['not_envelope', 1], ['invalid_input', 2], ['correlation_mismatch', 1]] as const) {
    t.ok(await metricLine(w.engine, `sagad_dead_letters_total{reason="${reason}"} ${n}`), `${reason}: ${n}`);
  }
  t.match(w.store.listDead({}).items.map((d) => d.reason), [/^input is OrderPlaced@2, which has no schema in saga shop/, /carries correlationId "someone-else"/, /^input does not match/, /^not a JSON envelope/]);
  const first = w.logs.find((l) => l.msg === 'message dead-lettered');
  const [newest] = w.store.listDead({}).items.slice(-1);
  t.same(first, { level: 'warn', msg: 'message dead-lettered', fields: { subject: 'shop.replies', deadLetter: newest?.id, reason: newest?.reason, instance: 'inst-9', saga: 'shop', step: 'only' } });
});

t.test('a reply that fails its saga\'s schema is dead-lettered as an invalid message', async (t) => {
  const w = world(t);
  const defsWithReply = sagasOf(`
version: 1
sagas:
  - name: strict
    steps:
      - name: only
        pivot: true
        command: { subject: st.commands, type: Do, payload: {} }
        reply: { subject: st.replies, success: [Done] }
        timeout: 10s
    schemas:
      Done@1: { type: object, required: [ref] }
`);
  const port = sqlitePort(w.store);
  const engine = new Engine({ store: port, registry: new Registry(defsWithReply), log: () => undefined });
  const handle = inboundHandler(engine, port, () => undefined);
  const { state } = await engine.start({ saga: 'strict', input: {} });
  const cmd = state.steps.only!.commands[0]!;
  t.equal(await handle(message('st.replies', { eventType: 'Done', causationId: cmd, correlationId: state.correlationId, payload: {} })), 'ack');
  t.ok(await metricLine(engine, 'sagad_dead_letters_total{reason="invalid_message"} 1'));
  t.ok(await metricLine(engine, 'sagad_messages_total{outcome="dead_lettered"} 1'));
});

t.test('too large a message is parked at once; the limits are the handler\'s', async (t) => {
  const w = world(t);
  const port = sqlitePort(w.store);
  const handle = inboundHandler(w.engine, port, () => undefined, { limits: { maxBytes: 300, maxDepth: 64 } });
  const big = message('shop.events', { eventType: 'OrderPlaced', payload: { orderId: 'o-big', pad: 'x'.repeat(400) } });
  t.equal(await handle(big), 'ack');
  t.match(w.store.listDead({}).items, [{ reason: new RegExp(`^message too large: ${big.data.byteLength} bytes, the limit is 300`) }]);
  t.equal(await w.handle(big), 'ack', 'the default limits take it');
  t.equal(w.store.listInstances({}).items.length, 1);
});

t.test('past its cap the dead-letter queue drops its oldest letters, counts them, and says so once per interval', async (t) => {
  const w = world(t);
  const port = sqlitePort(w.store);
  const lines: Line[] = [];
  const handle = inboundHandler(w.engine, port, (level, msg, fields) => { lines.push({ level, msg, fields }); }, { dlqCap: { maxRows: 2, maxBytes: 1_000_000 } });
  for (let i = 1; i <= 4; i++) t.equal(await handle(message('shop.replies', new TextEncoder().encode(`junk ${i}`), { streamSequence: i })), 'ack');
  t.same(w.store.listDead({}).items.map((d) => new TextDecoder().decode(w.store.getDead(d.id)?.data)).sort(), ['junk 3', 'junk 4'], 'the newest two are kept');
  t.ok(await metricLine(w.engine, 'sagad_dead_letters_dropped_total 2'));
  const full = lines.filter((l) => l.msg === 'dead-letter queue full: the oldest letters were dropped');
  t.same(full, [{ level: 'warn', msg: 'dead-letter queue full: the oldest letters were dropped', fields: { dropped: 2, bytes: 12, maxRows: 2, maxBytes: 1_000_000 } }], 'said once in the interval');
  t.same(lines.filter((l) => l.level === 'error'), []);
  // Without a cap of its own the handler keeps the default ten thousand.
  for (let i = 5; i <= 8; i++) await w.handle(message('shop.replies', new TextEncoder().encode(`junk ${i}`), { streamSequence: i }));
  t.equal(w.store.listDead({}).items.length, 6);
});

t.test('a trim that fails is logged; the letter is kept and the message acked', async (t) => {
  const w = world(t);
  const port = sqlitePort(w.store);
  const lines: Line[] = [];
  const failing = { ...port, trimDead: () => Promise.reject(new Error('trim failed')) };
  const handle = inboundHandler(w.engine, failing, (level, msg, fields) => { lines.push({ level, msg, fields }); });
  t.equal(await handle(message('shop.replies', garbage)), 'ack');
  t.equal(w.store.listDead({}).items.length, 1);
  t.same(lines.filter((l) => l.level === 'error'), [{ level: 'error', msg: 'could not trim the dead-letter queue', fields: { error: 'trim failed' } }]);
});

t.test('a message not admitted (the SQLite lease lost, or a drain while in doubt) goes back to JetStream, even on its last attempt, and is not parked', async (t) => {
  const { store, engine } = world(t);
  const port = sqlitePort(store);
  const closed = inboundHandler(engine, port, () => undefined, { admit: async () => false });
  const order = message('shop.events', { eventType: 'OrderPlaced', payload: { orderId: 'o-admit' } });
  t.equal(await closed(order), 'nak', 'not its last delivery: naked, for the process that holds the lease');
  t.same(store.listDead({}).items, [], 'not parked');
  t.equal((await engine.listInstances({ saga: 'shop' })).items.length, 0, 'and nothing started');
  // The consumer's max_deliver is unlimited: JetStream delivers it again after its last attempt too.
  t.equal(await closed({ ...order, deliveryCount: 5, lastAttempt: true }), 'nak', 'its last attempt is naked too');
  t.equal(await closed.abandon({ ...order, deliveryCount: 9, lastAttempt: true }, 'delivered 9 times'), 'nak', 'nor is one abandoned parked');
  t.same(store.listDead({}).items, [], 'nothing written while another process may hold the lease');
  const open = inboundHandler(engine, port, () => undefined, { admit: async () => true });
  t.equal(await open(message('shop.events', { eventType: 'OrderPlaced', payload: { orderId: 'o-admitted' } })), 'ack');
  t.equal((await engine.listInstances({ saga: 'shop' })).items.length, 1, 'admitted: handled');
  const stuck = message('shop.events', { eventType: 'OrderPlaced', payload: { orderId: 'o-stuck' } });
  t.equal(await open.abandon({ ...stuck, deliveryCount: 9, lastAttempt: true }, 'delivered 9 times and its handling never finished'), 'ack', 'an abandoned message, admitted, is acked');
  t.match(store.listDead({}).items, [{ subject: 'shop.events', reason: 'delivered 9 times and its handling never finished' }], 'once parked, with the reason, not handled');
  t.equal((await engine.listInstances({ saga: 'shop' })).items.length, 1, 'and it started nothing');
});
