/**
 * A child saga continues its parent's trace: its saga span is a child of the parent's saga
 * span, and its commands carry the parent's trace id. Whether the child starts in the same
 * write as its parent (its first step, before the parent is in the store) or later, after a
 * restart (the parent's context then read from the store).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { loadConfig } from '../../engine/config.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { startSagad, type Sagad } from '../../engine/main.js';
import { parseTraceparent } from '../../engine/tracing/context.js';
import { PinnedIds, SagaTracing } from '../../engine/tracing/spans.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/sagad.js';
import { startParticipant } from './world.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

function definitions(dir: string): string {
  const file = join(dir, 'family.yaml');
  writeFileSync(file, `version: 1
sagas:
  - name: first
    timeout: 5m
    steps:
      - name: ch
        saga: kid
        input: { order: "{% $input.order %}" }
        timeout: 1m
  - name: later
    timeout: 5m
    steps:
      - name: prep
        command: { subject: tr.commands, type: Prep, payload: { order: "{% $input.order %}" } }
        reply: { subject: tr.replies, success: [Prepped] }
        timeout: 1m
        compensate:
          command: { subject: tr.commands, type: Unprep, payload: { order: "{% $input.order %}" } }
          reply: { subject: tr.replies, success: [Unprepped] }
      - name: ch
        saga: kid
        input: { order: "{% $input.order %}" }
        timeout: 1m
  - name: kid
    timeout: 5m
    steps:
      - name: s1
        command: { subject: tr.commands, type: Do1, payload: { order: "{% $input.order %}" } }
        reply: { subject: tr.replies, success: [Done1] }
        timeout: 20s
        compensate:
          command: { subject: tr.commands, type: Undo1, payload: { order: "{% $input.order %}" } }
          reply: { subject: tr.replies, success: [Undone1] }
`);
  return file;
}

function memoryTracing() {
  const exporter = new InMemorySpanExporter();
  const ids = new PinnedIds();
  const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const provider = new BasicTracerProvider({ sampler, idGenerator: ids, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, tracing: new SagaTracing(provider.getTracer('sagad'), sampler, ids, () => provider.forceFlush()) };
}

async function startEngine(t: Test, dir: string, natsUrl: string, tracing: SagaTracing): Promise<Sagad> {
  const file = definitions(dir);
  const defs = loadDefinitionsFile(file);
  if (!defs.ok) throw new Error(`bad definitions: ${JSON.stringify(defs.errors)}`);
  const server = await startSagad(loadConfig({ SAGA_DEFINITIONS: file, SAGA_DB: join(dir, 'sagad.db'), NATS_URL: natsUrl, SAGA_HTTP_PORT: '0' }), defs.sagas, silentLog, undefined, { tracing });
  t.teardown(() => server.stop());
  return server;
}

async function startOver(server: Sagad, saga: string, order: string): Promise<string> {
  const res = await fetch(`${server.httpUrl}/v1/sagas/${saga}/instances`, {
    method: 'POST', headers: { 'content-type': 'application/json', traceparent: `00-${T}-${CALLER_SPAN}-01` }, body: JSON.stringify({ input: { order } }),
  });
  if (res.status !== 201) throw new Error(`start answered ${res.status}`);
  return ((await res.json()) as { id: string }).id;
}

const sagaSpan = (spans: readonly ReadableSpan[], saga: string) => spans.find((s) => s.name === `saga ${saga}`);

t.test('a child started by its parent\'s first step, in the parent\'s own start: one trace', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const mem = memoryTracing();
  const participant = await startParticipant(nats.url, (c) => (c.envelope.eventType === 'Do1' ? { type: 'Done1' } : null));
  t.teardown(() => participant.stop());
  const server = await startEngine(t, dir, nats.url, mem.tracing);
  const id = await startOver(server, 'first', 'o-1');
  await waitFor(async () => (await server.engine.getInstance(id))?.status === 'completed', 20_000, { what: 'the parent to complete' });
  const command = participant.seen.find((c) => c.envelope.eventType === 'Do1');
  t.equal(parseTraceparent(command?.headers.traceparent)?.traceId, T, 'the child\'s command carries the parent\'s trace id');
  const child = await waitFor(() => sagaSpan(mem.exporter.getFinishedSpans(), 'kid'), 10_000, { what: 'the child\'s saga span' });
  t.equal(child.spanContext().traceId, T, 'the child\'s saga span is in the caller\'s trace');
  const parentTrace = (await server.engine.getInstance(id))?.trace;
  t.equal(child.parentSpanContext?.spanId, parseTraceparent(parentTrace?.traceparent)?.spanId, 'under the parent\'s saga span');
});

t.test('a child started after a restart, its parent read from the store: one trace', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const participant = await startParticipant(nats.url, (c) => (c.envelope.eventType === 'Do1' ? { type: 'Done1' } : null));
  t.teardown(() => participant.stop());
  const a = await startEngine(t, dir, nats.url, memoryTracing().tracing);
  const id = await startOver(a, 'later', 'o-2');
  const prep = await waitFor(() => participant.seen.find((c) => c.envelope.eventType === 'Prep'), 20_000, { what: 'the Prep command' });
  const parentTrace = (await a.engine.getInstance(id))?.trace;
  await a.stop();

  const mem = memoryTracing();
  const b = await startEngine(t, dir, nats.url, mem.tracing);
  await participant.answer(prep, 'Prepped');
  await waitFor(async () => (await b.engine.getInstance(id))?.status === 'completed', 20_000, { what: 'the parent to complete' });
  const command = participant.seen.find((c) => c.envelope.eventType === 'Do1');
  t.equal(parseTraceparent(command?.headers.traceparent)?.traceId, T, 'the child\'s command carries the parent\'s trace id');
  const child = await waitFor(() => sagaSpan(mem.exporter.getFinishedSpans(), 'kid'), 10_000, { what: 'the child\'s saga span' });
  t.equal(child.parentSpanContext?.spanId, parseTraceparent(parentTrace?.traceparent)?.spanId, 'under the parent\'s saga span');
});
