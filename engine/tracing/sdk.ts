/**
 * Loads the OpenTelemetry SDK, only when the standard variables ask for tracing: the SDK and
 * the OTLP/HTTP exporter (protobuf or JSON) are imported dynamically, so a sagad without
 * tracing never loads them and its hot path does no tracing work.
 */
import { diag, DiagLogLevel } from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import type { Config } from '../config.js';
import type { LogFn } from '../log.js';
import { redact } from '../store/postgres/url.js';
import { PinnedIds, SagaTracing } from './spans.js';

/** How sagad exports spans, from the OTEL_* variables; null when tracing is off. */
export interface TracingSettings {
  readonly protocol: 'http/protobuf' | 'http/json';
  readonly serviceName: string;
  readonly sampler: string;
  readonly samplerArg: number;
  /** Where spans go, for the log line (the exporter reads the variables itself); may hold credentials (`https://user:key@host`). */
  readonly endpoint: string;
}

/** Pure: tracing is on when an OTLP endpoint is set and OTEL_SDK_DISABLED is not true. */
export function tracingSettings(c: Config): TracingSettings | null {
  if (c.otelDisabled === true) return null;
  const endpoint = c.otlpTracesEndpoint ?? (c.otlpEndpoint === undefined ? undefined : `${c.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`);
  if (endpoint === undefined) return null;
  return {
    protocol: c.otlpTracesProtocol ?? c.otlpProtocol ?? 'http/protobuf', serviceName: c.otelServiceName ?? 'sagad',
    sampler: c.otelSampler ?? 'parentbased_always_on', samplerArg: c.otelSamplerArg ?? 1, endpoint,
  };
}

/** Starts the SDK (tracer provider, batch processor, OTLP/HTTP exporter) and returns sagad's tracing over it. */
export async function loadTracing(s: TracingSettings, log: LogFn): Promise<SagaTracing> {
  // The SDK reports failed exports and dropped spans through diag: into sagad's log, warnings and errors only.
  const quiet = () => undefined;
  diag.setLogger({
    error: (message) => log('warn', `tracing: ${message}`), warn: (message) => log('warn', `tracing: ${message}`),
    info: quiet, debug: quiet, verbose: quiet,
  }, DiagLogLevel.WARN);
  const [base, resources, exporterModule] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    s.protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  const ratio = new base.TraceIdRatioBasedSampler(s.samplerArg);
  const samplers: Record<string, Sampler> = {
    always_on: new base.AlwaysOnSampler(),
    always_off: new base.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: new base.ParentBasedSampler({ root: new base.AlwaysOnSampler() }),
    parentbased_always_off: new base.ParentBasedSampler({ root: new base.AlwaysOffSampler() }),
    parentbased_traceidratio: new base.ParentBasedSampler({ root: ratio }),
  };
  const sampler = samplers[s.sampler] ?? new base.ParentBasedSampler({ root: new base.AlwaysOnSampler() });
  const ids = new PinnedIds();
  // The env detector reads OTEL_RESOURCE_ATTRIBUTES; service.name is sagad's unless OTEL_SERVICE_NAME says otherwise.
  const resource = resources.defaultResource()
    .merge(resources.detectResources({ detectors: [resources.envDetector] }))
    .merge(resources.resourceFromAttributes({ 'service.name': s.serviceName }));
  // The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS and _TIMEOUT; the processor OTEL_BSP_*.
  const exporter = new exporterModule.OTLPTraceExporter();
  const provider = new base.BasicTracerProvider({ resource, sampler, idGenerator: ids, spanProcessors: [new base.BatchSpanProcessor(exporter)] });
  // The endpoint may carry credentials in its user info: the log shows it without the password.
  log('info', 'tracing on: spans are exported over OTLP/HTTP', { endpoint: redact(s.endpoint), protocol: s.protocol, sampler: s.sampler, service: s.serviceName });
  return new SagaTracing(provider.getTracer('sagad'), sampler, ids, () => provider.shutdown());
}
