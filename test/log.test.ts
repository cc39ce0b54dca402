import { join } from 'node:path';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import t from 'tap';
import { buildApi } from '../engine/api/app.js';
import { createLogger, createPinoLogger, logFnOf, messageFields, traceIdOf } from '../engine/log.js';
import { Metrics } from '../engine/metrics/registry.js';
import { openStore } from '../engine/store/index.js';
import { StoreEngine } from './api/store-engine.js';

/**
 * sagad's log lines (pino): one JSON object per line with `level` as a name, `time`, `msg`
 * and the fields; the same logger is fastify's own, and a line written inside an
 * OpenTelemetry span carries its trace and span ids. Tests and operators parse these lines.
 */

type Line = Record<string, unknown>;
const parse = (lines: string[]): Line[] => lines.map((l) => JSON.parse(l) as Line);

t.test('one JSON object per line: level name, ISO time, msg, then the fields; lower levels dropped', async (t) => {
  const lines: string[] = [];
  const log = createLogger('info', (l) => lines.push(l));
  log('debug', 'hidden');
  log('info', 'sagad ready', { sagas: ['order'], db: '/tmp/x.db' });
  log('warn', 'consumer lagging', { consumer: 'sagad-orders_events', pending: 12 });
  log('error', 'bare');
  t.equal(lines.length, 3, 'debug is below info');
  t.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')), 'one line each');
  const [ready, lag, bare] = parse(lines);
  t.same(Object.keys(ready ?? {}), ['level', 'time', 'msg', 'sagas', 'db'], 'no pid, no hostname: what the line says and nothing else');
  t.match(ready, { level: 'info', msg: 'sagad ready', sagas: ['order'], db: '/tmp/x.db' });
  t.ok(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(String(ready?.time)), `ISO time (${String(ready?.time)})`);
  t.match(lag, { level: 'warn', msg: 'consumer lagging', consumer: 'sagad-orders_events', pending: 12 });
  t.same(bare, { level: 'error', time: bare?.time, msg: 'bare' });
  // What the end-to-end tests look for in sagad's stderr.
  t.ok(lines[0]?.includes('"msg":"sagad ready"') && lines[1]?.includes('"level":"warn"'));
});

t.test('fields cannot clash with the line\'s keys, and no value makes it throw', async (t) => {
  const lines: string[] = [];
  const log = createLogger('debug', (l) => lines.push(l));
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const err = Object.assign(new Error('boom', { cause: new Error('disk full') }), { code: 'SAGA_ERR_X' });
  const hostile = { toJSON() { throw new Error('no'); } };
  log('warn', 'shown', { msg: 'field', level: 'x', time: 'y', n: 10n, err, cyclic, hostile, at: new Date(0) });
  t.equal(lines.length, 1);
  const [line] = parse(lines);
  t.match(line, {
    level: 'warn', msg: 'shown', 'field.msg': 'field', 'field.level': 'x', 'field.time': 'y', n: '10',
    err: { name: 'Error', message: 'boom', code: 'SAGA_ERR_X', cause: { message: 'disk full' } }, cyclic: { a: 1, self: '[repeated]' },
    at: '1970-01-01T00:00:00.000Z',
  });
  t.type(line?.hostile, 'string', 'a value whose JSON throws is written as a note, not thrown');
});

t.test('traceId and spanId of the active OpenTelemetry span; none outside a span', async (t) => {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  t.teardown(() => {
    context.disable();
  });
  const lines: string[] = [];
  const log = createLogger('info', (l) => lines.push(l));
  const span = trace.wrapSpanContext({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED });
  await context.with(trace.setSpan(ROOT_CONTEXT, span), async () => {
    await Promise.resolve();
    log('info', 'step dispatched', { instance: 'i-1', saga: 'order', step: 'reserve' });
  });
  log('info', 'outside');
  const [inside, outside] = parse(lines);
  t.same(Object.keys(inside ?? {}), ['level', 'time', 'msg', 'instance', 'saga', 'step', 'traceId', 'spanId'], 'the ids come after the fields');
  t.match(inside, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' });
  t.notOk('traceId' in (outside ?? {}), 'no span, no trace id');
});

t.test('the trace id of a message from its traceparent header', async (t) => {
  t.same(traceIdOf({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
  t.same(traceIdOf({}), {}, 'no header');
  t.same(traceIdOf({ traceparent: 'garbage' }), {}, 'malformed');
  t.same(traceIdOf({ traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }), {}, 'the all-zero id is invalid');
});

t.test('fastify logs through the same logger: a debug line per request with its route, one line per failure', async (t) => {
  const lines: string[] = [];
  const logger = createPinoLogger('debug', (l) => lines.push(l));
  const store = openStore(join(t.testdir(), 'api.db'));
  const metrics = new Metrics();
  const app = buildApi(new StoreEngine(store), {
    loggerInstance: logger, log: logFnOf(logger), onAnswered: (m, route, status, s) => metrics.httpRequest(m, route, status, s),
  });
  t.teardown(() => app.close());
  t.equal((await app.inject({ url: '/v1/instances/nope' })).statusCode, 404);
  const request = parse(lines).find((l) => l.msg === 'HTTP request');
  t.match(request, { level: 'debug', method: 'GET', route: '/v1/instances/:id', status: 404, reqId: String });
  t.type(request?.ms, 'number');
  t.notOk(parse(lines).some((l) => l.msg === 'incoming request' || l.msg === 'request completed'), 'fastify\'s own two lines per request are off');
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
  t.notOk(parse(lines).some((l) => l.msg === 'HTTP request' && l.route === '/readyz'), 'probes stay quiet');
  t.match(await metrics.render({ instances: [], timersPending: 0, outboxBacklog: 0, outboxOldestAt: null, deadLetters: 0, consumerLag: 0, now: 0 }),
    /sagad_http_request_duration_seconds_count\{method="GET",route="\/v1\/instances\/:id",status="404"\} 1/);

  store.close(); // every read now fails: an unexpected error, a 500
  lines.length = 0;
  t.equal((await app.inject({ url: '/v1/instances/nope' })).statusCode, 500);
  const failures = parse(lines).filter((l) => l.level === 'error');
  t.equal(failures.length, 1, 'the failure is logged once, not by fastify and sagad both');
  t.match(failures[0], { msg: 'HTTP request failed', method: 'GET', url: '/v1/instances/nope', reqId: String });
});

t.test('the fields a message names: instance, saga and step from sagad\'s headers, the trace id from traceparent', async (t) => {
  t.same(messageFields({ 'Saga-Id': 'i-1', 'Saga-Name': 'order', 'Saga-Step': 'reserve', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', other: 'x' }),
    { instance: 'i-1', saga: 'order', step: 'reserve', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
  t.same(messageFields({ 'Saga-Id': '', other: 'x' }), {}, 'absent or empty headers give nothing');
});
