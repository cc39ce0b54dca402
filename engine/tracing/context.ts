/**
 * W3C trace context as sagad keeps it: parsing and writing `traceparent`, bounding `tracestate`,
 * and the ids of spans that are derived instead of stored. Pure except for hashing; nothing here
 * loads the SDK (only its API, which the logger loads anyway).
 */
import { createHash } from 'node:crypto';
import { createTraceState } from '@opentelemetry/api';
import type { InstanceState, TraceContext } from '../core/index.js';

/** The `traceparent` and `tracestate` a caller sent (HTTP headers, NATS headers); both optional. */
export interface TraceCarrier {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

/** A parsed `traceparent`. */
export interface ParentIds {
  readonly traceId: string;
  readonly spanId: string;
  /** The trace flags byte; bit 0 is "sampled". */
  readonly flags: number;
}

// Version 00 has exactly four fields; a later version may append more after a dash (W3C, section 3.2.4).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Pure: the ids of a valid `traceparent`, or null for anything the W3C rules reject. */
export function parseTraceparent(header: string | undefined): ParentIds | null {
  if (header === undefined) return null;
  const m = TRACEPARENT.exec(header.trim());
  if (m === null) return null;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (traceId === undefined || spanId === undefined || flags === undefined || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** Pure: a version-00 `traceparent`. */
export function formatTraceparent(ids: ParentIds): string {
  return `00-${ids.traceId}-${ids.spanId}-${(ids.flags & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * The span id of the attempt that sent `commandId`: derived from the command id, so the id
 * the participant saw in the command's `traceparent` is found again after a restart without
 * being stored anywhere.
 */
export function attemptSpanId(commandId: string): string {
  const id = createHash('sha256').update(commandId).digest('hex').slice(0, 16);
  return id === ZERO_SPAN ? '0000000000000001' : id;
}

/**
 * The span id of a `saga` step's compensation, asked of its child for the `request`th time
 * (1, 2, ... over the step's life, an operator's retry included): the child's id alone is the
 * step span's, and two spans with one id are dropped or merged by backends. Like any attempt's,
 * found again from the state by whichever process ends the attempt.
 */
export function childUndoSpanId(childId: string, request: number): string {
  // A child's id ends in `.<n>`, a command's is a UUID: no other attempt hashes this string.
  return attemptSpanId(`${childId}/undo/${request}`);
}

// The whole id: a child saga's id starts with its parent's UUIDv7 (`<parent>.<step>.<n>`), whose time is not the child's.
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The time a UUIDv7 id was made (its first 48 bits), or null for any other id. */
export function uuidv7Time(id: string): number | null {
  if (!UUIDV7.test(id)) return null;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/**
 * Pure: a caller's `tracestate` as W3C allows it, or undefined when nothing of it is valid. It
 * is copied onto every message of the instance, so an oversized one (JetStream refuses headers
 * over 64 KiB for ever) must not get through: over 512 characters it is dropped whole, invalid
 * list members are dropped, and at most 32 are kept (the OpenTelemetry API's own parser).
 */
export function cleanTracestate(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const clean = createTraceState(raw).serialize();
  return clean === '' ? undefined : clean;
}

/** The `traceparent` header with the instance's `tracestate` beside it, cleaned (a context stored before the check may hold any). */
export function withTracestate(traceparent: string, tc: TraceContext): { traceparent: string; tracestate?: string } {
  const tracestate = cleanTracestate(tc.tracestate);
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

/**
 * The `traceparent` and `tracestate` headers of a command an instance sends: the attempt's
 * span (child of the saga span) when the instance is traced, else undefined.
 */
export function commandTraceHeaders(state: InstanceState, commandId: string): { traceparent: string; tracestate?: string } | undefined {
  const saga = state.trace === undefined ? null : parseTraceparent(state.trace.traceparent);
  if (saga === null || state.trace === undefined) return undefined;
  return withTracestate(formatTraceparent({ traceId: saga.traceId, spanId: attemptSpanId(commandId), flags: saga.flags }), state.trace);
}

/** Pure: the trace context persisted for an instance, from its saga span's ids and its caller; only a valid `tracestate` is kept. */
export function traceContextOf(saga: ParentIds, caller: TraceCarrier | null, tracestate: string | undefined): TraceContext {
  const parent = caller === null ? null : parseTraceparent(caller.traceparent);
  const kept = cleanTracestate(tracestate);
  return {
    traceparent: formatTraceparent(saga),
    ...(parent === null ? {} : { parent: formatTraceparent(parent) }),
    ...(kept === undefined ? {} : { tracestate: kept }),
  };
}
