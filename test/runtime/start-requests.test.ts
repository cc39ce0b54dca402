import { join } from 'node:path';
import { headers as natsHeaders, type Subscription } from '@nats-io/transport-node';
import t, { type Test } from 'tap';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { silentLog, type LogFn } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { serveStartRequests } from '../../engine/runtime/start-requests.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { parseTraceparent } from '../../engine/tracing/context.js';
import { PinnedIds, SagaTracing } from '../../engine/tracing/spans.js';
import { connectNats, type NatsLink } from '../../engine/transport/connection.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * `sagas.start.<name>` (engine/runtime/start-requests.ts) on a real nats-server, one for the
 * file, with the engine in this process over a real SQLite file: what each request is answered
 * (the instance, or the refusal's code and sentence), and what the started instance takes from
 * the envelope (id, key, input, correlation id, the requester's trace when sagad traces).
 */
const sagas = sagasOf(`
version: 1
sagas:
  - name: parcel
    start:
      key: "{% $input.orderId %}"
    steps:
      - name: pack
        pivot: true
        command: { subject: parcel.commands, type: Pack, payload: {} }
        reply: { subject: parcel.events, success: [Packed] }
        timeout: 1h
  - name: plain
    steps:
      - name: go
        pivot: true
        command: { subject: plain.commands, type: Go, payload: {} }
        reply: { subject: plain.events, success: [Gone] }
        timeout: 1h
`);

const nats = await startNatsServer();
t.teardown(() => nats.stop());
const link: NatsLink = await connectNats({ url: nats.url });
t.teardown(() => link.close());

/** An engine over a fresh SQLite file serving start requests on the file's nats-server until the test ends. */
function serve(t: Test, opts: { tracing?: SagaTracing; log?: LogFn } = {}): { engine: Engine; store: Store; sub: Subscription } {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(sagas), log: silentLog, tracing: opts.tracing });
  const sub = serveStartRequests(link.nc, engine, opts.log ?? silentLog);
  t.teardown(() => {
    sub.unsubscribe();
    store.close();
  });
  return { engine, store, sub };
}

const envelope = (fields: { eventId?: string; correlationId?: string; payload: unknown }) => encodeEnvelope({
  eventId: fields.eventId ?? uuidv7(), eventType: 'StartSaga', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1,
  correlationId: fields.correlationId ?? 'corr-1', causationId: null, payload: fields.payload,
} as Parameters<typeof encodeEnvelope>[0]);

async function request(saga: string, data: Uint8Array, headers?: ReturnType<typeof natsHeaders>): Promise<Record<string, unknown>> {
  const answer = await link.nc.request(`sagas.start.${saga}`, data, { timeout: 10_000, ...(headers === undefined ? {} : { headers }) });
  return JSON.parse(new TextDecoder().decode(answer.data)) as Record<string, unknown>;
}

t.test('a start is answered with the instance once committed; the same request again starts nothing', async (t) => {
  const { engine } = serve(t);
  const eventId = uuidv7();
  const body = envelope({ eventId, payload: { input: { orderId: 'o-1' } } });
  t.same(await request('parcel', body), { id: eventId, state: 'running', created: true }, 'the envelope\'s eventId names the instance');
  const state = await engine.getInstance(eventId);
  t.match(state, { saga: 'parcel', key: 'o-1', correlationId: 'corr-1', input: { orderId: 'o-1' } }, 'committed before the answer, as asked');
  t.same(await request('parcel', body), { id: eventId, state: 'running', created: false }, 'the same request again');

  t.same(await request('parcel', envelope({ payload: { input: { orderId: 'o-2' }, id: 'named', key: 'k-named' } })), { id: 'named', state: 'running', created: true });
  t.match(await engine.getInstance('named'), { key: 'k-named', input: { orderId: 'o-2' } }, 'payload.id names it, payload.key is its key');
  t.same(await request('parcel', envelope({ payload: { input: { orderId: 'o-3' }, key: 'k-named' } })), { id: 'named', state: 'running', created: false }, 'a second start with that key finds it');

  t.same(await request('plain', envelope({ payload: { id: 'no-input' } })), { id: 'no-input', state: 'running', created: true });
  t.same((await engine.getInstance('no-input'))?.input, {}, 'without payload.input the input is an empty object');

  await request('plain', envelope({ correlationId: '', payload: { id: 'fresh-corr' } }));
  const fresh = await engine.getInstance('fresh-corr');
  t.not(fresh?.correlationId, '', 'an empty correlation id is not kept');
  t.equal(fresh?.correlationId, 'fresh-corr', 'the instance\'s id stands in for it');
});

t.test('refused requests are answered with the code and the reason, and start nothing', async (t) => {
  const { engine } = serve(t);
  const garbage = new TextEncoder().encode('[1, 2]');
  const parsed = parseEnvelope(garbage);
  t.same(await request('parcel', garbage), { error: { code: 'SAGA_ERR_INVALID_MESSAGE', message: parsed.ok ? 'an envelope?' : parsed.reason } }, 'with the parser\'s reason');
  const wrongTypes = 'payload.key and payload.id must be strings when given';
  t.same(await request('parcel', envelope({ payload: { input: { orderId: 'k' }, key: 7 } })), { error: { code: 'SAGA_ERR_INVALID_INPUT', message: wrongTypes } });
  t.same(await request('parcel', envelope({ payload: { input: { orderId: 'i' }, id: 7 } })), { error: { code: 'SAGA_ERR_INVALID_INPUT', message: wrongTypes } });
  t.same(await request('parcel', envelope({ payload: { input: { orderId: 'ki' }, key: 'k-ok', id: 7 } })), { error: { code: 'SAGA_ERR_INVALID_INPUT', message: wrongTypes }, }, 'a good key does not excuse a bad id');
  t.same(await request('parcel', envelope({ payload: { input: { orderId: 'ik' }, key: 7, id: 'i-ok' } })), { error: { code: 'SAGA_ERR_INVALID_INPUT', message: wrongTypes } }, 'nor a good id a bad key');
  t.same(await request('nope', envelope({ payload: {} })), { error: { code: 'SAGA_ERR_UNKNOWN_SAGA', message: 'no saga named nope is loaded (loaded: parcel, plain)' } });
  // As the HTTP start's body: a misspelt field is named, not read as a missing input.
  t.same(await request('parcel', envelope({ payload: { inputx: { orderId: 'x' } } })),
    { error: { code: 'SAGA_ERR_INVALID_INPUT', message: 'the payload has unknown field "inputx": a start request\'s payload is {input, key?, id?}' } });
  t.same(await request('plain', envelope({ payload: { input: {}, Key: 'k', correlationId: 'c' } })),
    { error: { code: 'SAGA_ERR_INVALID_INPUT', message: 'the payload has unknown fields "Key", "correlationId": a start request\'s payload is {input, key?, id?}' } }, 'the correlation id is the envelope\'s');
  t.match(await request('nope', envelope({ payload: { inputx: 1 } })), { error: { code: 'SAGA_ERR_UNKNOWN_SAGA' } }, 'a saga not loaded is that first');
  t.match(await request('nope', envelope({ payload: { input: {}, id: 5 } })), { error: { code: 'SAGA_ERR_UNKNOWN_SAGA' } }, 'whatever the types of its fields');
  t.same((await engine.listInstances({ limit: 10 })).items, [], 'nothing was started');
});

t.test('a request without a reply subject that fails is logged, since nobody can be told; one answered, or one that starts, is not', async (t) => {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  let heard: () => void = () => undefined;
  const log: LogFn = (level, msg, fields) => {
    lines.push({ level, msg, fields: fields ?? {} });
    heard();
  };
  const { engine } = serve(t, { log });
  const logged = (n: number) => new Promise<void>((resolve, reject) => {
    const late = setTimeout(() => reject(new Error(`${lines.length} log lines after 10 s, not ${n}`)), 10_000);
    heard = () => {
      if (lines.length < n) return;
      clearTimeout(late);
      resolve();
    };
    heard();
  });
  const unknown = uuidv7();
  link.nc.publish('sagas.start.nope', envelope({ eventId: unknown, payload: {} }));
  link.nc.publish('sagas.start.parcel', new TextEncoder().encode('not json'));
  await logged(2);
  // The malformed one is refused at once, the unknown saga once the engine has looked.
  lines.sort((a, b) => String(a.fields.subject).localeCompare(String(b.fields.subject)));
  t.match(lines, [
    { level: 'warn', msg: /without a reply subject failed/, fields: { subject: 'sagas.start.nope', eventId: unknown, code: 'SAGA_ERR_UNKNOWN_SAGA', error: /no saga named nope/ } },
    { level: 'warn', msg: /without a reply subject failed/, fields: { subject: 'sagas.start.parcel', code: 'SAGA_ERR_INVALID_MESSAGE' } },
  ]);
  t.equal(lines.length, 2);
  // Answered refusals and a start that commits add no line: a request after them is the next one logged.
  t.match(await request('nope', envelope({ payload: {} })), { error: { code: 'SAGA_ERR_UNKNOWN_SAGA' } });
  const started = uuidv7();
  link.nc.publish('sagas.start.plain', envelope({ eventId: started, payload: {} }));
  link.nc.publish('sagas.start.parcel', envelope({ payload: { input: { orderId: 'o' }, key: 7 } }));
  await logged(3);
  t.equal(lines.length, 3);
  t.match(lines[2], { fields: { subject: 'sagas.start.parcel', code: 'SAGA_ERR_INVALID_INPUT' } });
  // Nobody is told when it commits: looked for until it has.
  for (const deadline = Date.now() + 10_000; (await engine.getInstance(started)) === undefined && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 5));
  t.equal((await engine.getInstance(started))?.status, 'running', 'the start without a reply subject that succeeded is there');
  t.equal(lines.length, 3, 'and logged nothing');
  // A flood of one kind is one line per 10 s, whatever subject the sender picks: the same refusal
  // again adds none, nor does an unknown saga of another name; another kind does.
  for (let i = 0; i < 5; i++) link.nc.publish('sagas.start.parcel', envelope({ payload: { input: { orderId: 'o' }, key: 7 } }));
  link.nc.publish('sagas.start.other', envelope({ payload: {} }));
  link.nc.publish('sagas.start.plain', envelope({ payload: { id: '..' } }));
  await logged(4);
  t.equal(lines.length, 4);
  t.match(lines[3], { fields: { subject: 'sagas.start.plain', code: 'SAGA_ERR_INVALID_INPUT', error: /cannot be named in a URL path/ } });
});

t.test('a store that fails is answered as an internal error with its message', async (t) => {
  const { store } = serve(t);
  store.close();
  const answer = await request('plain', envelope({ payload: { id: 'x' } }));
  t.match(answer, { error: { code: 'SAGA_ERR_INTERNAL', message: /database connection is not open/ } });
});

t.test('requests are shared with the other sagad processes of the queue group "sagad"', async (t) => {
  const { engine } = serve(t);
  // Another member of the group: NATS gives each request to one member only.
  let other = 0;
  const peer = link.nc.subscribe('sagas.start.>', { queue: 'sagad', callback: () => { other++; } });
  t.teardown(() => peer.unsubscribe());
  await link.nc.flush();
  const ids = Array.from({ length: 40 }, (_, i) => `q-${i}`);
  // Published with a reply subject nobody reads: a request the peer took is never answered.
  for (const id of ids) link.nc.publish('sagas.start.plain', envelope({ payload: { id } }), { reply: `_INBOX.unread.${id}` });
  await link.nc.flush();
  const count = async () => (await Promise.all(ids.map((id) => engine.getInstance(id)))).filter((s) => s !== undefined).length;
  const deadline = Date.now() + 10_000;
  while (await count() + other < ids.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await link.nc.flush();
  await engine.settled();
  const started = await count();
  t.equal(started + other, ids.length, `each request went to one member (${started} here, ${other} to the peer)`);
  t.ok(started > 0 && other > 0, 'both members took some');
});

t.test('with tracing on, the instance continues the requester\'s trace; without its header it is a new trace', async (t) => {
  const ids = new PinnedIds();
  const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const provider = new BasicTracerProvider({ sampler, idGenerator: ids, spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] });
  const tracing = new SagaTracing(provider.getTracer('sagad'), sampler, ids);
  const { engine } = serve(t, { tracing });
  const caller = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const h = natsHeaders();
  h.set('traceparent', caller);
  h.set('tracestate', 'vendor=abc');
  await request('plain', envelope({ payload: { id: 'traced' } }), h);
  const traced = await engine.getInstance('traced');
  t.equal(parseTraceparent(traced?.trace?.traceparent)?.traceId, '0af7651916cd43dd8448eb211c80319c', 'the saga span is in the requester\'s trace');
  t.equal(traced?.trace?.parent, caller, 'its parent is the requester\'s span');
  t.equal(traced?.trace?.tracestate, 'vendor=abc', 'the tracestate is kept');

  const only = natsHeaders();
  only.set('traceparent', caller);
  await request('plain', envelope({ payload: { id: 'no-state' } }), only);
  t.equal((await engine.getInstance('no-state'))?.trace?.tracestate, undefined, 'a missing tracestate header is no tracestate');

  await request('plain', envelope({ payload: { id: 'untraced' } }));
  const root = await engine.getInstance('untraced');
  t.ok(root?.trace !== undefined, 'the instance is traced');
  t.not(parseTraceparent(root?.trace?.traceparent)?.traceId, '0af7651916cd43dd8448eb211c80319c', 'a request without headers starts a trace of its own');
  t.equal(root?.trace?.parent, undefined, 'with no parent');
});

t.test('with tracing off, a request\'s trace headers are not read', async (t) => {
  const { engine } = serve(t);
  const h = natsHeaders();
  h.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  await request('plain', envelope({ payload: { id: 'off' } }), h);
  t.equal((await engine.getInstance('off'))?.trace, undefined);
});
