import { createHash } from 'node:crypto';
import type { Effect, InstanceState } from '../core/index.js';
import type { OutboxMessage } from '../store/index.js';
import { encodeEnvelope } from '../transport/envelope.js';
import { pooledRandomBytes } from '../ids.js';
import { commandTraceHeaders, parseTraceparent, withTracestate } from '../tracing/context.js';

/** The subject of lifecycle integration events (DESIGN section 3). */
export const LIFECYCLE_SUBJECT = 'sagas.events';

/**
 * W3C traceparent for a saga's messages: one trace per instance (its id hashed), a fresh span
 * per message, so a tracing backend groups everything an instance sent.
 */
export function traceparent(instanceId: string): string {
  let trace = traces.get(instanceId);
  // Stryker disable next-line ConditionalExpression: a cache; hashing the id again gives the same trace id
  if (trace === undefined) {
    trace = createHash('sha256').update(instanceId).digest('hex').slice(0, 32);
    // Stryker disable next-line ConditionalExpression,EqualityOperator,BlockStatement: a bound on the cache; emptying it sooner only costs a hash
    if (traces.size >= TRACE_CACHE) traces.clear();
    traces.set(instanceId, trace);
  }
  return `00-${trace}-${Buffer.from(pooledRandomBytes(8)).toString('hex')}-01`;
}

/** Trace ids of recent instances: an instance sends several messages in a row. */
const traces = new Map<string, string>();
const TRACE_CACHE = 10_000;

/**
 * The trace headers of a message an instance sends: a traced instance's (the attempt's span
 * for a command, the saga span for a lifecycle event; docs/tracing.md), else the made-up one.
 */
function traceHeaders(state: InstanceState, commandId: string | null): { traceparent: string; tracestate?: string } {
  if (state.trace === undefined) return { traceparent: traceparent(state.id) };
  if (commandId !== null) return commandTraceHeaders(state, commandId) ?? { traceparent: traceparent(state.id) };
  const saga = parseTraceparent(state.trace.traceparent);
  if (saga === null) return { traceparent: traceparent(state.id) };
  return withTracestate(state.trace.traceparent, state.trace);
}

/** Turns a publishing effect into its outbox row (envelope bytes and headers); other effects give null. */
export function outboxMessage(effect: Effect, state: InstanceState): OutboxMessage | null {
  if (effect.type === 'SendCommand') {
    const c = effect.command;
    return {
      messageId: c.eventId,
      subject: c.subject,
      // An untraced instance (tracing off) takes the plain path: no extra object per command.
      headers: state.trace === undefined
        ? { ...c.headers, 'Saga-Deadline': new Date(c.deadlineAt).toISOString(), traceparent: traceparent(state.id) }
        : { ...c.headers, 'Saga-Deadline': new Date(c.deadlineAt).toISOString(), ...traceHeaders(state, c.eventId) },
      data: encodeEnvelope({
        eventId: c.eventId, eventType: c.eventType, aggregateId: c.aggregateId, timestamp: new Date(c.timestamp).toISOString(),
        version: c.version, correlationId: c.correlationId, causationId: c.causationId, payload: asObject(c.payload),
      }),
    };
  }
  if (effect.type === 'PublishLifecycle') {
    return {
      messageId: effect.eventId,
      subject: LIFECYCLE_SUBJECT,
      headers: state.trace === undefined
        ? { 'Saga-Id': state.id, 'Saga-Name': state.saga, traceparent: traceparent(state.id) }
        : { 'Saga-Id': state.id, 'Saga-Name': state.saga, ...traceHeaders(state, null) },
      data: encodeEnvelope({
        eventId: effect.eventId, eventType: effect.eventType, aggregateId: state.id, timestamp: new Date(effect.timestamp).toISOString(),
        version: 1, correlationId: state.correlationId, causationId: null, payload: { ...effect.payload },
      }),
    };
  }
  return null;
}

/** Envelope payloads are objects; any other rendered value is wrapped so nothing is lost. */
function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
}
