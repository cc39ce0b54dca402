/**
 * A caller's `tracestate` is copied onto every message of its instance, so only a valid W3C
 * one is kept: one over 512 characters is dropped (a 65,300-character one fits JetStream's
 * 64 KiB of headers on the trigger, but not on a command with sagad's own headers besides,
 * whose publish would be refused for ever), invalid members are dropped, a valid one is kept.
 */
import t from 'tap';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Effect, InstanceState } from '../../engine/core/index.js';
import { loadConfig } from '../../engine/config.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { startSagad } from '../../engine/main.js';
import { outboxMessage } from '../../engine/runtime/outgoing.js';
import { cleanTracestate, commandTraceHeaders, traceContextOf } from '../../engine/tracing/context.js';
import { PinnedIds, SagaTracing } from '../../engine/tracing/spans.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/sagad.js';
import { publishBegin, startParticipant, tracedDefinitions } from './world.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';
const CALLER = `00-${T}-aaaaaaaaaaaaaaaa-01`;
/**
 * 65,300 characters: the trigger's headers (about 150 bytes besides) fit JetStream's 65,535;
 * a command's (about 360 besides: Saga-*, Idempotency-Key, traceparent) would not.
 */
const HUGE = `vendor=${'a'.repeat(65_300 - 'vendor='.length)}`;

t.test('cleanTracestate keeps only what W3C allows', async (t) => {
  t.equal(cleanTracestate(undefined), undefined);
  t.equal(cleanTracestate(''), undefined);
  t.equal(cleanTracestate('vendor=abc,other@tenant=x-1'), 'vendor=abc,other@tenant=x-1', 'a valid one is kept as it is');
  t.equal(cleanTracestate('vendor=abc , other=def'), 'vendor=abc,other=def', 'blanks around members are dropped');
  t.equal(cleanTracestate(HUGE), undefined, '65,300 characters: dropped whole');
  t.equal(cleanTracestate(`k=${'v'.repeat(511)}`), undefined, 'over 512 characters: dropped whole');
  t.equal(cleanTracestate('vendor=abc,Bad Key=1,ok=2,novalue,x=a=b'), 'vendor=abc,ok=2', 'invalid members are dropped');
  t.equal(cleanTracestate('Bad Key=1'), undefined, 'nothing valid left: none');
  const many = Array.from({ length: 40 }, (_, i) => `k${i}=v`).join(',');
  t.equal(cleanTracestate(many)?.split(',').length, 32, 'at most 32 members');
});

t.test('the stored context and every header written from it', async (t) => {
  t.same(traceContextOf({ traceId: T, spanId: S, flags: 1 }, { traceparent: CALLER }, HUGE), { traceparent: `00-${T}-${S}-01`, parent: CALLER },
    'an oversized tracestate is not stored');
  // An instance stored before the check, with the oversized tracestate in its context.
  const state = { id: 'i-1', saga: 'traced', correlationId: 'c-1', trace: { traceparent: `00-${T}-${S}-01`, parent: CALLER, tracestate: HUGE } } as unknown as InstanceState;
  t.notOk('tracestate' in (commandTraceHeaders(state, 'cmd-1') ?? {}), 'its commands carry none');
  const lifecycle = outboxMessage({ type: 'PublishLifecycle', eventId: 'e-1', eventType: 'SagaStarted', timestamp: 0, payload: {} } as unknown as Effect, state);
  t.same(lifecycle?.headers, { 'Saga-Id': 'i-1', 'Saga-Name': 'traced', traceparent: `00-${T}-${S}-01` }, 'nor its lifecycle events');
  const kept = { ...state, trace: { ...state.trace, tracestate: 'vendor=abc' } } as unknown as InstanceState;
  t.equal(commandTraceHeaders(kept, 'cmd-1')?.tracestate, 'vendor=abc', 'a valid one is carried');
});

t.test('a trigger with a 65,300-character tracestate: its saga completes, its commands carry none', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const exporter = new InMemorySpanExporter();
  const ids = new PinnedIds();
  const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const provider = new BasicTracerProvider({ sampler, idGenerator: ids, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracing = new SagaTracing(provider.getTracer('sagad'), sampler, ids, () => provider.forceFlush());
  const participant = await startParticipant(nats.url, (c) => ({ type: c.envelope.eventType === 'Reserve' ? 'Reserved' : 'Charged' }));
  t.teardown(() => participant.stop());
  const definitions = tracedDefinitions(dir);
  const defs = loadDefinitionsFile(definitions);
  if (!defs.ok) throw new Error('bad definitions');
  const server = await startSagad(loadConfig({ SAGA_DEFINITIONS: definitions, SAGA_DB: `${dir}/sagad.db`, NATS_URL: nats.url, SAGA_HTTP_PORT: '0' }), defs.sagas, silentLog, undefined, { tracing });
  t.teardown(() => server.stop());

  const completed = async (order: string) => waitFor(async () => {
    const page = await server.engine.listInstances({});
    const found = page.items.find((i) => i.correlationId === `c-${order}`);
    return found === undefined ? undefined : (await server.engine.getInstance(found.id))?.status === 'completed' ? found.id : undefined;
  }, 20_000, { what: `the saga of ${order} to complete` });

  await publishBegin(participant.link, 'o-huge', { traceparent: CALLER, tracestate: HUGE });
  const huge = await completed('o-huge');
  const hugeCommands = participant.seen.filter((c) => c.envelope.payload.order === 'o-huge');
  t.same(hugeCommands.map((c) => c.envelope.eventType), ['Reserve', 'Charge'], 'both commands were published');
  t.same(hugeCommands.map((c) => c.headers.tracestate), [undefined, undefined], 'without the tracestate');
  t.same(hugeCommands.map((c) => c.headers.traceparent?.slice(3, 35)), [T, T], 'still in the caller\'s trace');
  t.equal((await server.engine.getInstance(huge))?.trace?.tracestate, undefined, 'nor is it stored');

  await publishBegin(participant.link, 'o-short', { traceparent: CALLER, tracestate: 'vendor=abc' });
  await completed('o-short');
  const shortCommands = participant.seen.filter((c) => c.envelope.payload.order === 'o-short');
  t.same(shortCommands.map((c) => c.headers.tracestate), ['vendor=abc', 'vendor=abc'], 'a valid short tracestate is kept on every command');
});
