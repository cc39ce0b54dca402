/**
 * Traces end to end with the engine in this process and an in-memory exporter: a caller's
 * span, the saga span, step and compensation attempt spans, and the participant's span
 * through the command's `traceparent`; started over HTTP, by a trigger event and over NATS;
 * and a restart in the middle of a step that keeps the trace.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ROOT_CONTEXT, trace, type SpanContext } from '@opentelemetry/api';
import { headers as natsHeaders } from '@nats-io/transport-node';
import {
  AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor, type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { loadConfig } from '../../engine/config.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { startSagad, type Sagad } from '../../engine/main.js';
import { parseTraceparent, uuidv7Time } from '../../engine/tracing/context.js';
import { PinnedIds, SagaTracing } from '../../engine/tracing/spans.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startPostgres } from '../helpers/postgres.js';
import { waitFor } from '../helpers/sagad.js';
import { publishBegin, startParticipant, tracedDefinitions, type SeenCommand } from './world.js';

/** An SDK set up as sagad's loader does, but exporting into memory; the test's own spans go there too. */
function memoryTracing() {
  const exporter = new InMemorySpanExporter();
  const ids = new PinnedIds();
  const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const provider = new BasicTracerProvider({ sampler, idGenerator: ids, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracing = new SagaTracing(provider.getTracer('sagad'), sampler, ids, () => provider.forceFlush());
  return { exporter, tracing, tracer: provider.getTracer('test') };
}

const header = (c: SpanContext) => `00-${c.traceId}-${c.spanId}-0${c.traceFlags}`;

async function startEngine(t: Test, dir: string, natsUrl: string, definitions: string, tracing: SagaTracing, db = join(dir, 'sagad.db')): Promise<Sagad> {
  const defs = loadDefinitionsFile(definitions);
  if (!defs.ok) throw new Error('bad definitions');
  const config = loadConfig({ SAGA_DEFINITIONS: definitions, SAGA_DB: db, NATS_URL: natsUrl, SAGA_HTTP_PORT: '0' });
  const server = await startSagad(config, defs.sagas, silentLog, undefined, { tracing });
  t.teardown(() => server.stop());
  return server;
}

async function instanceState(server: Sagad, id: string): Promise<string | undefined> {
  return (await server.engine.getInstance(id))?.status;
}

const named = (spans: readonly ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

t.test('an HTTP start: caller, saga, step and participant spans form one trace', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const mem = memoryTracing();
  const participantSpans = new Map<string, string>();
  const participant = await startParticipant(nats.url, (c) => ({ type: c.envelope.eventType === 'Reserve' ? 'Reserved' : 'Charged' }), (c): Record<string, string> => {
    const parent = parseTraceparent(c.headers.traceparent);
    if (parent === null) return {};
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: true });
    const span = mem.tracer.startSpan(`participant ${c.envelope.eventType}`, {}, ctx);
    span.end();
    participantSpans.set(c.envelope.eventType, span.spanContext().spanId);
    return { traceparent: header(span.spanContext()) };
  });
  t.teardown(() => participant.stop());
  const server = await startEngine(t, dir, nats.url, tracedDefinitions(dir), mem.tracing);

  const caller = mem.tracer.startSpan('caller');
  const res = await fetch(`${server.httpUrl}/v1/sagas/traced/instances`, {
    method: 'POST', headers: { 'content-type': 'application/json', traceparent: header(caller.spanContext()), tracestate: 'vendor=abc' },
    body: JSON.stringify({ input: { order: 'o-1' } }),
  });
  caller.end();
  t.equal(res.status, 201);
  const id = ((await res.json()) as { id: string }).id;
  const sagaSpan = await waitFor(() => named(mem.exporter.getFinishedSpans(), 'saga traced')[0], 20_000, { what: 'the saga span' });
  const spans = mem.exporter.getFinishedSpans();
  const c = caller.spanContext();
  t.equal(await instanceState(server, id), 'completed');
  t.equal(sagaSpan.spanContext().traceId, c.traceId, 'the saga continues the caller\'s trace');
  t.equal(sagaSpan.parentSpanContext?.spanId, c.spanId, 'the saga span is a child of the caller\'s span');
  t.equal(sagaSpan.attributes['saga.instance.id'], id);
  t.equal(sagaSpan.attributes['saga.outcome'], 'completed');
  t.equal(sagaSpan.spanContext().traceState?.get('vendor'), 'abc', 'the caller\'s tracestate is kept');
  for (const [step, reply] of [['reserve', 'Reserve'], ['charge', 'Charge']] as const) {
    const s = named(spans, `step ${step}`);
    t.equal(s.length, 1, `one span for the one attempt of ${step}`);
    const span = s[0];
    if (span === undefined) continue;
    t.equal(span.spanContext().traceId, c.traceId);
    t.equal(span.parentSpanContext?.spanId, sagaSpan.spanContext().spanId, `${step} is a child of the saga span`);
    t.match(span.attributes, { 'saga.name': 'traced', 'saga.instance.id': id, 'saga.step': step, 'saga.attempt': 1, 'saga.outcome': 'succeeded' });
    const command = participant.seen.find((x: SeenCommand) => x.envelope.eventType === reply);
    t.equal(parseTraceparent(command?.headers.traceparent)?.spanId, span.spanContext().spanId, `the ${reply} command carries the step span`);
    t.equal(command?.headers.tracestate, 'vendor=abc', 'and the tracestate');
    const p = named(spans, `participant ${reply}`)[0];
    t.equal(p?.parentSpanContext?.spanId, span.spanContext().spanId, `the participant's ${reply} span is a child of the step span`);
    t.equal(p?.spanContext().traceId, c.traceId);
    t.same(span.links.map((l) => l.context.spanId), [participantSpans.get(reply)], 'the step span links the reply\'s span');
    t.ok(span.startTime[0] * 1000 + span.startTime[1] / 1e6 <= span.endTime[0] * 1000 + span.endTime[1] / 1e6, 'dispatch comes before the reply');
  }
  t.equal(named(spans, 'caller')[0]?.parentSpanContext, undefined, 'the caller is the root');
});

t.test('a trigger event\'s headers, a retry after a timeout, a failure and its compensation', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const mem = memoryTracing();
  let reserves = 0;
  const participant = await startParticipant(nats.url, (c) => {
    switch (c.envelope.eventType) {
      case 'Reserve': return ++reserves === 1 ? null : { type: 'Reserved' }; // the first attempt times out
      case 'Charge': return { type: 'Declined' };
      case 'Release': return { type: 'Released' };
      default: return null;
    }
  });
  t.teardown(() => participant.stop());
  const server = await startEngine(t, dir, nats.url, tracedDefinitions(dir, { reserveTimeout: '400ms' }), mem.tracing);
  const caller = mem.tracer.startSpan('publisher');
  await publishBegin(participant.link, 'o-2', { traceparent: header(caller.spanContext()) });
  caller.end();
  const sagaSpan = await waitFor(() => named(mem.exporter.getFinishedSpans(), 'saga traced')[0], 20_000, { what: 'the saga span' });
  const spans = mem.exporter.getFinishedSpans();
  const c = caller.spanContext();
  t.equal(sagaSpan.parentSpanContext?.spanId, c.spanId, 'the trigger event\'s traceparent is the saga\'s parent');
  t.equal(sagaSpan.attributes['saga.outcome'], 'compensated');
  const reserve = named(spans, 'step reserve').sort((a, b) => Number(a.attributes['saga.attempt']) - Number(b.attributes['saga.attempt']));
  t.same(reserve.map((s) => [s.attributes['saga.attempt'], s.attributes['saga.outcome']]), [[1, 'retry'], [2, 'succeeded']], 'one span per attempt of reserve');
  t.same(reserve[0]?.events.map((e) => e.name), ['timeout', 'retry'], 'the first attempt timed out and was retried');
  t.equal(reserve[0]?.events[1]?.attributes?.['saga.next_attempt'], 2);
  const charge = named(spans, 'step charge')[0];
  t.equal(charge?.attributes['saga.outcome'], 'failed');
  t.equal(charge?.status.code, 2, 'a failed step is an error span');
  const release = named(spans, 'compensate reserve');
  t.equal(release.length, 1, 'the compensation attempt has its span');
  t.match(release[0]?.attributes, { 'saga.side': 'undo', 'saga.outcome': 'compensated', 'saga.attempt': 1 });
  t.equal(release[0]?.parentSpanContext?.spanId, sagaSpan.spanContext().spanId);
  for (const s of [...reserve, charge, ...release]) t.equal(s?.spanContext().traceId, c.traceId, `${s?.name ?? '?'} is in the publisher's trace`);
  const ids = participant.seen.map((x) => parseTraceparent(x.headers.traceparent)?.spanId);
  t.same(new Set(ids), new Set([...reserve, charge, ...release].map((s) => s?.spanContext().spanId)), 'each command carried its attempt\'s span id');
  void server;
});

for (const store of ['sqlite', 'postgres'] as const) t.test(`a restart in the middle of a step keeps its trace (${store}): the span ends in the next process with the same ids`, async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  let db = join(dir, 'sagad.db');
  if (store === 'postgres') {
    const pg = await startPostgres();
    t.teardown(() => pg.stop());
    db = await pg.createDatabase();
  }
  const first = memoryTracing();
  const participant = await startParticipant(nats.url, (c) => (c.envelope.eventType === 'Reserve' ? { type: 'Reserved' } : null));
  t.teardown(() => participant.stop());
  const definitions = tracedDefinitions(dir);
  const a = await startEngine(t, dir, nats.url, definitions, first.tracing, db);
  // A start requested over NATS, with the requester's trace in the headers.
  const caller = first.tracer.startSpan('requester');
  const h = natsHeaders();
  h.set('traceparent', header(caller.spanContext()));
  const envelope = { eventId: 'start-1', eventType: 'StartSaga', aggregateId: 'o-3', timestamp: new Date().toISOString(), version: 1, correlationId: 'c-3', causationId: null, payload: { input: { order: 'o-3' } } };
  // sagad's subscription may reach the server a moment after startSagad resolved: ask until someone answers.
  const answer = await waitFor(() => participant.link.nc.request('sagas.start.traced', JSON.stringify(envelope), { headers: h, timeout: 10_000 }), 10_000, { what: 'an answer to the start request' });
  const id = (answer.json() as { id: string }).id;
  const held = await waitFor(() => participant.seen.find((x) => x.envelope.eventType === 'Charge'), 20_000, { what: 'the charge command' });
  const reserve = await waitFor(() => named(first.exporter.getFinishedSpans(), 'step reserve')[0], 10_000, { what: 'the reserve span' });
  await a.stop();
  t.same(named(first.exporter.getFinishedSpans(), 'step charge'), [], 'the first process ended no charge span: the step was still waiting');

  const second = memoryTracing();
  const b = await startEngine(t, dir, nats.url, definitions, second.tracing, db);
  await participant.answer(held, 'Charged');
  const sagaSpan = await waitFor(() => named(second.exporter.getFinishedSpans(), 'saga traced')[0], 20_000, { what: 'the saga span after the restart' });
  const charge = named(second.exporter.getFinishedSpans(), 'step charge')[0];
  const sent = parseTraceparent(held.headers.traceparent);
  const c = caller.spanContext();
  t.equal(await instanceState(b, id), 'completed');
  t.equal(charge?.spanContext().spanId, sent?.spanId, 'the charge span has the id the command carried before the restart');
  t.equal(charge?.spanContext().traceId, c.traceId, 'in the requester\'s trace');
  t.equal(charge?.parentSpanContext?.spanId, reserve.parentSpanContext?.spanId, 'under the same saga span as before the restart');
  t.equal(sagaSpan.spanContext().spanId, reserve.parentSpanContext?.spanId, 'the saga span ended after the restart is the one the steps hang from');
  t.equal(sagaSpan.parentSpanContext?.spanId, c.spanId, 'and it is still the requester\'s child');
  const startMs = (charge?.startTime[0] ?? 0) * 1000 + Math.floor((charge?.startTime[1] ?? 0) / 1e6);
  t.equal(startMs, uuidv7Time(held.envelope.eventId), 'the span starts when the command was dispatched, before the restart');
  caller.end();
});

t.test('tracing not configured: no trace context is kept and commands carry the plain traceparent, whatever the caller sent', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const participant = await startParticipant(nats.url, (c) => ({ type: c.envelope.eventType === 'Reserve' ? 'Reserved' : 'Charged' }));
  t.teardown(() => participant.stop());
  const definitions = tracedDefinitions(dir);
  const defs = loadDefinitionsFile(definitions);
  if (!defs.ok) throw new Error('bad definitions');
  const config = loadConfig({ SAGA_DEFINITIONS: definitions, SAGA_DB: join(dir, 'sagad.db'), NATS_URL: nats.url, SAGA_HTTP_PORT: '0' });
  const server = await startSagad(config, defs.sagas, silentLog);
  t.teardown(() => server.stop());
  t.equal(server.engine.deps.tracing, undefined, 'the engine has no tracing');
  const caller = `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`;
  const res = await fetch(`${server.httpUrl}/v1/sagas/traced/instances`, {
    method: 'POST', headers: { 'content-type': 'application/json', traceparent: caller }, body: JSON.stringify({ input: { order: 'o-off' } }),
  });
  const id = ((await res.json()) as { id: string }).id;
  await waitFor(async () => (await instanceState(server, id)) === 'completed', 20_000, { what: 'the instance completed' });
  t.equal((await server.engine.getInstance(id))?.trace, undefined, 'no trace context in the state');
  const history = await server.engine.history(id);
  t.notOk(history?.some((e) => JSON.stringify(e).includes('traceparent')), 'nor in the journal');
  const sent = participant.seen.map((c) => parseTraceparent(c.headers.traceparent));
  t.equal(sent.length, 2);
  t.ok(sent.every((p) => p !== null && p.traceId === createHash('sha256').update(id).digest('hex').slice(0, 32)), 'the made-up trace of the instance, not the caller\'s');
});
