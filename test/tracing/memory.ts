/**
 * Tracing into memory for tests that run the engine in this process: the SDK set up as
 * sagad's loader sets it up (parent-based, always on, ids pinned by sagad), with a simple
 * processor so that a span is in the exporter as soon as it ends.
 */
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { parseEnvelope } from '../../engine/transport/envelope.js';
import type { Store } from '../../engine/store/index.js';
import { PinnedIds, SagaTracing } from '../../engine/tracing/spans.js';
import { parseTraceparent } from '../../engine/tracing/context.js';
import type { InstanceState } from '../../engine/core/index.js';

/** An in-memory exporter and the SagaTracing that writes into it. */
export function memoryTracing(): { exporter: InMemorySpanExporter; tracing: SagaTracing } {
  const exporter = new InMemorySpanExporter();
  const ids = new PinnedIds();
  const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const provider = new BasicTracerProvider({ sampler, idGenerator: ids, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, tracing: new SagaTracing(provider.getTracer('sagad'), sampler, ids, () => provider.forceFlush()) };
}

/** The finished spans of one instance (by `saga.instance.id`) with this name. */
export function spansOf(exporter: InMemorySpanExporter, instance: string, name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name && s.attributes['saga.instance.id'] === instance);
}

/** The saga span id an instance's stored trace context names. */
export function sagaSpanId(state: InstanceState | undefined): string | undefined {
  return parseTraceparent(state?.trace?.traceparent)?.spanId;
}

/** The id of the latest command in the outbox on `subject` (no relay runs, so every row stays unsent). */
export function commandId(store: Store, subject: string): string {
  const row = store.unsent(1000).filter((r) => r.subject === subject).at(-1);
  const env = row === undefined ? null : parseEnvelope(row.data);
  if (env === null || !env.ok) throw new Error(`no command on ${subject}`);
  return env.envelope.eventId;
}
