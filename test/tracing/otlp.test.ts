/**
 * sagad as a child process exporting to a real OTLP/HTTP receiver (a small HTTP server here):
 * configured only by the standard OTEL_* variables, it posts OTLP/JSON whose spans continue
 * the caller's trace, and OTLP/protobuf with the protobuf content type.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { startSagad, waitFor } from '../helpers/sagad.js';
import { startParticipant, tracedDefinitions } from './world.js';

interface Post { readonly path: string; readonly contentType: string; readonly body: Buffer }

/** An OTLP/HTTP receiver: keeps every POST, answers 200 with an empty export response. */
async function receiver(t: Tap): Promise<{ url: string; posts: Post[] }> {
  const posts: Post[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      const json = (req.headers['content-type'] ?? '').includes('json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posts };
}
type Tap = { teardown(fn: () => unknown): void };

interface JsonSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes: { key: string; value: { stringValue?: string; intValue?: number | string } }[] }
interface JsonExport { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: JsonSpan[] }[] }[] }

const spansOf = (posts: readonly Post[]): { service: string | undefined; span: JsonSpan }[] => posts.filter((p) => p.contentType.includes('json')).flatMap((p) => {
  const doc = JSON.parse(p.body.toString('utf8')) as JsonExport;
  return doc.resourceSpans.flatMap((r) => {
    const service = r.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
    return r.scopeSpans.flatMap((s) => s.spans.map((span) => ({ service, span })));
  });
});

async function start(url: string, traceparent: string, order: string): Promise<string> {
  const res = await fetch(`${url}/v1/sagas/traced/instances`, {
    method: 'POST', headers: { 'content-type': 'application/json', traceparent }, body: JSON.stringify({ input: { order } }),
  });
  if (res.status !== 201) throw new Error(`start answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

t.test('OTLP/HTTP from a sagad process: JSON decoded span by span, then protobuf', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const participant = await startParticipant(nats.url, (c) => ({ type: c.envelope.eventType === 'Reserve' ? 'Reserved' : 'Charged' }));
  t.teardown(() => participant.stop());
  const otlp = await receiver(t);
  const definitions = tracedDefinitions(dir);
  const common = { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'sagad-under-test' };

  const json = await startSagad({ natsUrl: nats.url, dbFile: `${dir}/sagad.db`, definitions, env: { ...common, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' } });
  t.teardown(() => json.stop());
  const traceId = randomBytes(16).toString('hex');
  const callerSpan = randomBytes(8).toString('hex');
  const id = await start(json.url, `00-${traceId}-${callerSpan}-01`, 'o-json');
  const saga = await waitFor(() => spansOf(otlp.posts).find((s) => s.span.name === 'saga traced')?.span, 20_000, { what: 'the saga span over OTLP/JSON' });
  const spans = spansOf(otlp.posts);
  t.ok(otlp.posts.every((p) => p.path === '/v1/traces'), 'posted to <endpoint>/v1/traces');
  t.ok(spans.every((s) => s.service === 'sagad-under-test'), 'service.name is OTEL_SERVICE_NAME');
  t.equal(saga.traceId, traceId, 'the saga span continues the caller\'s trace');
  t.equal(saga.parentSpanId, callerSpan, 'as a child of the caller\'s span');
  t.equal(saga.attributes.find((a) => a.key === 'saga.instance.id')?.value.stringValue, id);
  for (const step of ['reserve', 'charge']) {
    const s = spans.find((x) => x.span.name === `step ${step}`)?.span;
    t.equal(s?.traceId, traceId, `step ${step} in the trace`);
    t.equal(s?.parentSpanId, saga.spanId, `step ${step} under the saga span`);
    const seen = participant.seen.find((c) => c.envelope.eventType === (step === 'reserve' ? 'Reserve' : 'Charge'));
    t.equal(seen?.headers.traceparent, `00-${traceId}-${s?.spanId ?? '?'}-01`, `the ${step} command carried its span`);
  }
  t.equal(await json.stop(), 0);

  const proto = await startSagad({ natsUrl: nats.url, dbFile: `${dir}/sagad.db`, definitions, env: { ...common, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' } });
  t.teardown(() => proto.stop());
  const traceId2 = randomBytes(16).toString('hex');
  await start(proto.url, `00-${traceId2}-${randomBytes(8).toString('hex')}-01`, 'o-proto');
  const raw = Buffer.from(traceId2, 'hex');
  const post = await waitFor(() => otlp.posts.find((p) => p.body.includes(raw) && p.body.includes('saga traced')), 20_000, { what: 'a protobuf export with the saga span' });
  t.equal(post.contentType, 'application/x-protobuf', 'protobuf content type');
  t.ok(post.body.includes('step charge'), 'the step spans came with it');
  t.equal(await proto.stop(), 0);
});

t.test('kill -9 in the middle of a step: the next process exports the step span with the ids the command carried', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const participant = await startParticipant(nats.url, (c) => (c.envelope.eventType === 'Reserve' ? { type: 'Reserved' } : null));
  t.teardown(() => participant.stop());
  const otlp = await receiver(t);
  const definitions = tracedDefinitions(dir);
  const opts = { natsUrl: nats.url, dbFile: `${dir}/sagad.db`, definitions, env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100' } };
  const first = await startSagad(opts);
  t.teardown(() => first.kill9());
  const traceId = randomBytes(16).toString('hex');
  const callerSpan = randomBytes(8).toString('hex');
  const id = await start(first.url, `00-${traceId}-${callerSpan}-01`, 'o-kill');
  const held = await waitFor(() => participant.seen.find((c) => c.envelope.eventType === 'Charge'), 20_000, { what: 'the charge command' });
  const reserve = await waitFor(() => spansOf(otlp.posts).find((s) => s.span.name === 'step reserve')?.span, 20_000, { what: 'the reserve span exported' });
  await first.kill9();
  t.notOk(spansOf(otlp.posts).some((s) => s.span.name === 'step charge' || s.span.name === 'saga traced'), 'the charge step and the saga were still open when sagad was killed');

  const second = await startSagad(opts);
  t.teardown(() => second.stop());
  await participant.answer(held, 'Charged');
  const saga = await waitFor(() => spansOf(otlp.posts).find((s) => s.span.name === 'saga traced')?.span, 20_000, { what: 'the saga span from the second process' });
  const charge = spansOf(otlp.posts).find((s) => s.span.name === 'step charge')?.span;
  t.equal(charge?.spanId, held.headers.traceparent?.split('-')[2], 'the charge span has the id its command carried before the kill');
  t.equal(charge?.traceId, traceId, 'in the caller\'s trace');
  t.equal(charge?.parentSpanId, reserve.parentSpanId, 'under the saga span the first process used');
  t.equal(saga.spanId, reserve.parentSpanId, 'which the second process ended');
  t.equal(saga.parentSpanId, callerSpan);
  t.equal(saga.attributes.find((a) => a.key === 'saga.instance.id')?.value.stringValue, id);
  t.equal(await second.stop(), 0);
});
