import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createHash } from 'node:crypto';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { LIFECYCLE_SUBJECT } from '../../engine/runtime/outgoing.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type OutboxRow } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { attemptSpanId, parseTraceparent } from '../../engine/tracing/context.js';
import { PinnedIds, SagaTracing } from '../../engine/tracing/spans.js';
import { parseEnvelope, type Envelope } from '../../engine/transport/envelope.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * The outbox rows an instance's effects become (engine/runtime/outgoing.ts), read from a real
 * SQLite outbox after the engine's commits: a command's envelope and headers (its deadline,
 * its trace), a lifecycle event's, with tracing off and on, and a payload that renders to
 * something other than an object.
 */
const sagas = sagasOf(`
version: 1
sagas:
  - name: ship
    timeout: 1h
    steps:
      - name: pack
        pivot: true
        command: { subject: s.commands, type: Pack, payload: { order: "{% $input.order %}" } }
        reply: { subject: s.events, success: [Packed] }
        timeout: 10s
  - name: scalar
    steps:
      - name: count
        pivot: true
        command: { subject: s.commands, type: Count, payload: "{% $input.n %}" }
        reply: { subject: s.events, success: [Counted] }
        timeout: 10s
`);

function world(t: Test, tracing?: SagaTracing) {
  const store = openStore(join(t.testdir(), 'rows.db'));
  t.teardown(() => store.close());
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(sagas), log: silentLog, tracing });
  const rows = () => store.unsent(100);
  return { store, engine, rows };
}

const envelopeOf = (row: OutboxRow | undefined): Envelope => {
  const p = parseEnvelope(row?.data ?? new Uint8Array());
  if (!p.ok) throw new Error(p.reason);
  return p.envelope;
};

/** When the instance stops waiting for its attempt: the command's Saga-Deadline. */
async function attemptDeadline(engine: Engine, id: string): Promise<string> {
  const row = (await engine.timersOf(id)).find((r) => r.data.kind === 'attempt_timeout');
  if (row === undefined) throw new Error('no attempt timeout');
  return new Date(row.dueAt).toISOString();
}

function memoryTracing(): SagaTracing {
  const ids = new PinnedIds();
  const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const provider = new BasicTracerProvider({ sampler, idGenerator: ids, spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] });
  return new SagaTracing(provider.getTracer('sagad'), sampler, ids);
}

t.test('untraced: a command row carries its envelope, its deadline and a made-up trace of the instance', async (t) => {
  const w = world(t);
  const { state } = await w.engine.start({ saga: 'ship', input: { order: 'o-1' }, correlationId: 'corr-1' });
  const cmdId = state.steps.pack?.awaiting ?? '';
  const row = w.rows().find((r) => r.subject === 's.commands');
  t.equal(row?.messageId, cmdId, 'the command\'s id is the message id');
  t.equal(row?.headers['Saga-Deadline'], await attemptDeadline(w.engine, state.id));
  t.equal(row?.headers['Saga-Id'], state.id, 'with the core\'s own headers');
  const trace = createHash('sha256').update(state.id).digest('hex').slice(0, 32);
  t.match(row?.headers.traceparent, new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`));
  t.notOk('tracestate' in (row?.headers ?? {}));
  t.same(envelopeOf(row), {
    eventId: cmdId, eventType: 'Pack', aggregateId: envelopeOf(row).aggregateId, timestamp: new Date(state.createdAt).toISOString(),
    version: 1, correlationId: 'corr-1', causationId: envelopeOf(row).causationId, payload: { order: 'o-1' },
  });
});

t.test('untraced: a lifecycle row names the instance and its saga; its envelope is the instance\'s', async (t) => {
  const w = world(t);
  const { state } = await w.engine.start({ saga: 'ship', input: { order: 'o-2' }, correlationId: 'corr-2' });
  const row = w.rows().find((r) => r.subject === LIFECYCLE_SUBJECT);
  t.equal(LIFECYCLE_SUBJECT, 'sagas.events');
  const trace = createHash('sha256').update(state.id).digest('hex').slice(0, 32);
  t.same(Object.keys(row?.headers ?? {}).sort(), ['Saga-Id', 'Saga-Name', 'traceparent']);
  t.match(row?.headers, { 'Saga-Id': state.id, 'Saga-Name': 'ship', traceparent: new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`) });
  const env = envelopeOf(row);
  t.equal(row?.messageId, env.eventId);
  t.match(env, { eventType: 'SagaStarted', aggregateId: state.id, timestamp: new Date(state.createdAt).toISOString(), version: 1, correlationId: 'corr-2', causationId: null });
  t.type(env.payload, 'object');
});

t.test('traced: the command carries its attempt span, the lifecycle event the saga span, each with the tracestate', async (t) => {
  const w = world(t, memoryTracing());
  const caller = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const { state } = await w.engine.start({ saga: 'ship', input: { order: 'o-3' }, trace: { traceparent: caller, tracestate: 'vendor=abc' } });
  const cmdId = state.steps.pack?.awaiting ?? '';
  const rows = w.rows();
  const cmd = rows.find((r) => r.subject === 's.commands');
  t.equal(cmd?.headers.traceparent, `00-0af7651916cd43dd8448eb211c80319c-${attemptSpanId(cmdId)}-01`, 'the attempt span of this command');
  t.equal(cmd?.headers.tracestate, 'vendor=abc');
  t.equal(cmd?.headers['Saga-Deadline'], await attemptDeadline(w.engine, state.id));
  const life = rows.find((r) => r.subject === LIFECYCLE_SUBJECT);
  t.same(life?.headers, { 'Saga-Id': state.id, 'Saga-Name': 'ship', traceparent: state.trace?.traceparent, tracestate: 'vendor=abc' });
  t.equal(parseTraceparent(life?.headers.traceparent)?.traceId, '0af7651916cd43dd8448eb211c80319c');

  const plain = await w.engine.start({ saga: 'ship', input: { order: 'o-4' }, trace: { traceparent: caller } });
  const mine = w.rows().filter((r) => r.headers['Saga-Id'] === plain.state.id);
  t.equal(mine.length, 2);
  t.ok(mine.every((r) => !('tracestate' in r.headers)), 'no tracestate when the caller sent none');
  t.ok(mine.every((r) => parseTraceparent(r.headers.traceparent)?.traceId === '0af7651916cd43dd8448eb211c80319c'));
});

t.test('a payload that renders to something other than an object is wrapped as {value}', async (t) => {
  const w = world(t);
  for (const n of [5, 'text', null, [1, 2]]) {
    const { state } = await w.engine.start({ saga: 'scalar', input: { n } });
    const row = w.rows().find((r) => r.subject === 's.commands' && r.headers['Saga-Id'] === state.id);
    t.same(envelopeOf(row).payload, { value: n }, JSON.stringify(n));
  }
  const { state } = await w.engine.start({ saga: 'scalar', input: { n: { a: 1 } } });
  t.same(envelopeOf(w.rows().find((r) => r.subject === 's.commands' && r.headers['Saga-Id'] === state.id)).payload, { a: 1 }, 'an object is the payload itself');
});
