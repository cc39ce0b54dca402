import t from 'tap';
import { loadConfig } from '../../engine/config.js';
import { attemptSpanId, commandTraceHeaders, formatTraceparent, parseTraceparent, traceContextOf, uuidv7Time } from '../../engine/tracing/context.js';
import { tracingSettings } from '../../engine/tracing/sdk.js';
import { uuidv7 } from '../../engine/ids.js';
import type { InstanceState } from '../../engine/core/index.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

t.test('traceparent: the W3C rules', async (t) => {
  t.same(parseTraceparent(`00-${T}-${S}-01`), { traceId: T, spanId: S, flags: 1 });
  t.same(parseTraceparent(` 00-${T}-${S}-00 `), { traceId: T, spanId: S, flags: 0 }, 'surrounding blanks are tolerated');
  t.same(parseTraceparent(`01-${T}-${S}-01-later`), { traceId: T, spanId: S, flags: 1 }, 'a later version may append fields');
  for (const bad of [undefined, '', `00-${T}-${S}-01-x`, `ff-${T}-${S}-01`, `00-${'0'.repeat(32)}-${S}-01`, `00-${T}-${'0'.repeat(16)}-01`, `00-${T.toUpperCase()}-${S}-01`, `00-${T}-${S}`]) {
    t.equal(parseTraceparent(bad), null, `refused: ${String(bad)}`);
  }
  t.equal(formatTraceparent({ traceId: T, spanId: S, flags: 1 }), `00-${T}-${S}-01`);
});

t.test('ids derived instead of stored: the attempt span and the dispatch time', async (t) => {
  t.equal(attemptSpanId('cmd-1'), attemptSpanId('cmd-1'), 'the same command id gives the same span id');
  t.not(attemptSpanId('cmd-1'), attemptSpanId('cmd-2'));
  t.match(attemptSpanId('cmd-1'), /^[0-9a-f]{16}$/);
  const before = Date.now();
  const at = uuidv7Time(uuidv7());
  t.ok(at !== null && at >= before && at <= Date.now(), 'a UUIDv7 says when it was made');
  t.equal(uuidv7Time('not-a-uuid'), null);
});

t.test('the persisted context and the headers of a traced instance\'s commands', async (t) => {
  const tc = traceContextOf({ traceId: T, spanId: S, flags: 1 }, { traceparent: `00-${T}-aaaaaaaaaaaaaaaa-01` }, 'k=v');
  t.same(tc, { traceparent: `00-${T}-${S}-01`, parent: `00-${T}-aaaaaaaaaaaaaaaa-01`, tracestate: 'k=v' });
  t.same(traceContextOf({ traceId: T, spanId: S, flags: 0 }, null, undefined), { traceparent: `00-${T}-${S}-00` }, 'a root has no parent');
  const state = { id: 'i-1', trace: tc } as unknown as InstanceState;
  t.same(commandTraceHeaders(state, 'cmd-1'), { traceparent: `00-${T}-${attemptSpanId('cmd-1')}-01`, tracestate: 'k=v' });
  t.equal(commandTraceHeaders({ id: 'i-2' } as unknown as InstanceState, 'cmd-1'), undefined, 'an untraced instance has none');
});

t.test('tracing is on only when an endpoint is configured and the SDK not disabled', async (t) => {
  t.equal(tracingSettings(loadConfig({})), null, 'nothing set: off');
  t.equal(tracingSettings(loadConfig({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })), null, 'no endpoint: off');
  t.equal(tracingSettings(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })), null, 'disabled: off');
  t.same(tracingSettings(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })), {
    protocol: 'http/protobuf', serviceName: 'sagad', sampler: 'parentbased_always_on', samplerArg: 1, endpoint: 'http://c:4318/v1/traces',
  }, 'the defaults');
  t.same(tracingSettings(loadConfig({
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://c/traces', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'orders-sagad', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25',
  })), { protocol: 'http/json', serviceName: 'orders-sagad', sampler: 'parentbased_traceidratio', samplerArg: 0.25, endpoint: 'https://c/traces' });
  t.throws(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_SAMPLER: 'jaeger_remote', OTEL_TRACES_SAMPLER_ARG: '2', OTEL_EXPORTER_OTLP_ENDPOINT: 'c:4318' }),
    /4 problems[\s\S]*OTEL_EXPORTER_OTLP_ENDPOINT[\s\S]*OTEL_EXPORTER_OTLP_PROTOCOL[\s\S]*OTEL_TRACES_SAMPLER=[\s\S]*OTEL_TRACES_SAMPLER_ARG/, 'every bad value at once');
});
