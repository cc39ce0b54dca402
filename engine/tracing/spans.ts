/**
 * sagad's spans, written when they end from what the journal knows. A span is never held
 * open while an instance waits: its ids are fixed when it begins (the saga span's in the
 * instance's trace context, an attempt's derived from its command id) and the span is
 * created and ended in one go once the decision that ends it is committed, with its true
 * start time. A restart in the middle of a step therefore loses nothing: the process that
 * sees the reply writes the same span the first one would have (docs/tracing.md).
 */
import { createTraceState, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span, type Tracer } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { assertNever, type InstanceState, type SagaEvent, type TimerRef, type TraceContext } from '../core/index.js';
import { attemptSpanId, childUndoSpanId, cleanTracestate, parseTraceparent, traceContextOf, uuidv7Time, type ParentIds, type TraceCarrier } from './context.js';

/** Which side of a step an attempt span is for, with the span's name prefix. */
export type Side = 'do' | 'undo';

/**
 * What caused the decisions of a write, as far as their spans care: a reply to the command of
 * an instance's step and side (its `traceparent` is linked), a timer of an instance, or
 * anything else. It names what it concerns because a write also ends attempts it did not
 * answer: a child started and ended in it, a parent that child's end moved.
 */
export type TraceCause =
  | { readonly kind: 'reply'; readonly instanceId: string; readonly step: string; readonly side: Side; readonly carrier: TraceCarrier }
  | { readonly kind: 'timer'; readonly instanceId: string; readonly timer: TimerRef }
  | { readonly kind: 'other' };

/** One committed change of a traced instance (its decisions of one write, in order): the state before and after, and the events. */
export interface TraceNote {
  readonly before: InstanceState | undefined;
  readonly after: InstanceState;
  readonly events: readonly SagaEvent[];
  readonly cause: TraceCause;
}

/** The part of an SDK sampler sagad asks at a start (the SDK's `Sampler`). */
export interface StartSampler {
  shouldSample(context: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): { decision: number; traceState?: { serialize(): string } | undefined };
}

/** Lets the next span the tracer starts take ids chosen by sagad (the SDK's `IdGenerator`). */
export class PinnedIds {
  private traceId: string | null = null;
  private spanId: string | null = null;

  /** The ids of the span about to be started; read once. */
  pin(traceId: string, spanId: string): void {
    this.traceId = traceId;
    this.spanId = spanId;
  }

  generateTraceId(): string {
    const id = this.traceId ?? randomBytes(16).toString('hex');
    this.traceId = null;
    return id;
  }

  generateSpanId(): string {
    const id = this.spanId ?? randomBytes(8).toString('hex');
    this.spanId = null;
    return id;
  }
}

const RECORD_AND_SAMPLED = 2;
const SAMPLED = 1;
/** Trace contexts remembered by instance id: far more than the starts of one write. */
const BEGUN_KEPT = 10_000;

/**
 * An attempt begun and not yet ended; `start` null when nothing tells when it began. `request`:
 * for a `saga` step's compensation, which request to its child it is (its span id depends on
 * it, see {@link childUndoSpanId}); null for every other attempt.
 */
interface Open { readonly commandId: string; readonly attempt: number; readonly start: number | null; readonly request: number | null }

/**
 * An attempt's start: the time in its command's id (a UUIDv7), else `since`, the time the state
 * or the event that opened it gives. A `saga` step's attempt is its child, whose id
 * (`<parent>.<step>.<n>`) carries no time.
 */
function opened(commandId: string, attempt: number, since: number | null, request: number | null = null): Open {
  return { commandId, attempt, start: uuidv7Time(commandId) ?? since, request };
}

/** The span id of an attempt: its command's, or for a `saga` step's compensation its child's and the request's. */
function spanIdOf(o: Open): string {
  return o.request === null ? attemptSpanId(o.commandId) : childUndoSpanId(o.commandId, o.request);
}

/**
 * The tracing sagad does when configured: begins an instance's trace context at its start
 * and writes the spans each committed decision ended. Never throws into the engine.
 */
export class SagaTracing {
  constructor(
    private readonly tracer: Tracer,
    private readonly sampler: StartSampler,
    private readonly ids: PinnedIds,
    /** Exports what is buffered and stops the SDK. */
    readonly shutdown: () => Promise<void> = async () => undefined,
  ) {}

  /**
   * The contexts begun lately, by instance id, oldest first: a child saga decided in the same
   * write as its parent's start (its first step) continues the parent's trace before the
   * parent is in the store.
   */
  private readonly begun = new Map<string, TraceContext>();

  /**
   * The trace context of a new instance: a child of the caller's `traceparent` when it sent a
   * valid one (its `tracestate` kept when W3C allows it), else a new trace; sampled as the SDK's
   * sampler says. With `instanceId`, remembered for {@link begunFor}.
   */
  begin(saga: string, carrier: TraceCarrier | undefined, instanceId?: string): TraceContext {
    const tc = this.beginContext(saga, carrier);
    if (instanceId !== undefined) {
      this.begun.delete(instanceId);
      this.begun.set(instanceId, tc);
      for (const oldest of this.begun.keys()) {
        if (this.begun.size <= BEGUN_KEPT) break;
        this.begun.delete(oldest);
      }
    }
    return tc;
  }

  /** The context lately begun for instance `id` in this process, if it is still remembered. */
  begunFor(id: string): TraceContext | undefined {
    return this.begun.get(id);
  }

  private beginContext(saga: string, carrier: TraceCarrier | undefined): TraceContext {
    const caller = parseTraceparent(carrier?.traceparent);
    const traceId = caller?.traceId ?? randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    // Bounded before anything reads it: the stored one is copied onto every message of the instance.
    const tracestate = caller === null ? undefined : cleanTracestate(carrier?.tracestate);
    const r = this.sampler.shouldSample(parentContext(caller, tracestate), traceId, `saga ${saga}`, SpanKind.INTERNAL, {}, []);
    const flags = r.decision === RECORD_AND_SAMPLED ? SAMPLED : 0;
    return traceContextOf({ traceId, spanId, flags }, caller === null ? null : carrier ?? null, r.traceState?.serialize() ?? tracestate);
  }

  /** Writes the spans the committed decisions ended; a failure is swallowed (tracing must not fail an input). */
  record(notes: readonly TraceNote[]): void {
    for (const n of notes) {
      try {
        this.recordOne(n);
      } catch {
        // A malformed stored context or an SDK error costs the span, nothing else.
      }
    }
  }

  private recordOne(n: TraceNote): void {
    const tc = n.after.trace;
    const saga = tc === undefined ? null : parseTraceparent(tc.traceparent);
    if (tc === undefined || saga === null || (saga.flags & SAMPLED) === 0) return;
    const open = new Map<string, Open>();
    for (const [name, st] of Object.entries(n.before?.steps ?? {})) {
      // `startedAt` is when the step (or its compensation) first began: after an operator's retry, before this attempt.
      if (st.awaiting !== null) open.set(`do:${name}`, opened(st.awaiting, st.attempt, st.startedAt));
      const c = st.compensation;
      // A compensation that awaits an id of the step's own is a `saga` step's, awaiting the child the step started.
      if (c !== null && c.awaiting !== null) open.set(`undo:${name}`, opened(c.awaiting, c.attempt, c.startedAt, st.commands.includes(c.awaiting) ? c.commands.length : null));
    }
    const end = (side: Side, step: string, at: number, outcome: string, error: string | null, retryAt?: number) => {
      const o = open.get(`${side}:${step}`);
      if (o === undefined) return;
      open.delete(`${side}:${step}`);
      this.attemptSpan(n, saga, tc, side, step, o, at, outcome, error, retryAt);
    };
    for (const e of n.events) {
      switch (e.type) {
        case 'StepDispatched': open.set(`do:${e.step}`, opened(e.commandId, e.attempt, e.at)); break;
        case 'CompensationDispatched': open.set(`undo:${e.step}`, opened(e.commandId, e.attempt, e.at)); break;
        // A saga step's attempt is its child, which may end in the same write as it began (linked.ts).
        case 'ChildStarted': open.set(`do:${e.step}`, opened(e.childId, 1, e.at)); break;
        // One request a write at most: the child's compensation ends the step's, or waits for an operator.
        case 'ChildCompensationRequested': {
          const c = n.after.steps[e.step]?.compensation;
          open.set(`undo:${e.step}`, opened(e.childId, c?.attempt ?? 1, e.at, c?.commands.length ?? 1));
          break;
        }
        case 'StepAttemptFailed': end('do', e.step, e.at, 'retry', e.error, e.retryAt); break;
        case 'StepSucceeded': end('do', e.step, e.at, 'succeeded', null); break;
        case 'StepFailed': end('do', e.step, e.at, e.status, e.error); break;
        case 'StepGivenUp': end('do', e.step, e.at, 'given_up', null); break;
        case 'CompensationAttemptFailed': end('undo', e.step, e.at, 'retry', e.error, e.retryAt); break;
        case 'StepCompensated': end('undo', e.step, e.at, 'compensated', null); break;
        case 'CompensationFailed': end('undo', e.step, e.at, 'failed', e.error); break;
        case 'SagaCompleted': this.sagaSpan(n.after, saga, tc, e.at, 'completed', null); break;
        case 'SagaCompensated': this.sagaSpan(n.after, saga, tc, e.at, 'compensated', null); break;
        case 'SagaFailed': this.sagaSpan(n.after, saga, tc, e.at, 'failed', e.error); break;
        // These neither begin nor end an attempt: a wait has no command, a late success's attempt already ended.
        case 'SagaStarted': case 'StepSkipped': case 'WaitStarted': case 'ForEachStarted': case 'CompensationStarted': case 'DelayStarted':
        case 'LateSuccessRecorded': case 'CompensationResumed': case 'ForwardResumed':
          break;
        default: assertNever(e);
      }
    }
  }

  /** Starts a span with ids sagad chose: the SDK's own id generator hands them out. */
  private started(name: string, traceId: string, spanId: string, parent: Context, start: number, attributes: Attributes, links: Link[], kind: SpanKind): Span {
    this.ids.pin(traceId, spanId);
    return this.tracer.startSpan(name, { kind, startTime: start, attributes, links }, parent);
  }

  private sagaSpan(s: InstanceState, saga: ParentIds, tc: TraceContext, at: number, outcome: string, error: string | null): void {
    const caller = tc.parent === undefined ? null : parseTraceparent(tc.parent);
    const span = this.started(`saga ${s.saga}`, saga.traceId, saga.spanId, parentContext(caller, tc.tracestate), s.createdAt, {
      'saga.name': s.saga, 'saga.instance.id': s.id, 'saga.correlation_id': s.correlationId, 'saga.definition.hash': s.definitionHash,
      ...(s.key === null ? {} : { 'saga.key': s.key }),
    }, [], SpanKind.INTERNAL);
    finish(span, at, outcome, error, outcome === 'failed');
  }

  private attemptSpan(n: TraceNote, saga: ParentIds, tc: TraceContext, side: Side, step: string, o: Open, at: number, outcome: string, error: string | null, retryAt?: number): void {
    const s = n.after;
    const c = n.cause;
    const links: Link[] = [];
    // The reply's step and side, not the command it names: a success to an earlier attempt's command ends the attempt in flight.
    if (c.kind === 'reply' && c.instanceId === s.id && c.step === step && c.side === side) {
      const reply = parseTraceparent(c.carrier.traceparent);
      if (reply !== null) links.push({ context: { traceId: reply.traceId, spanId: reply.spanId, traceFlags: reply.flags, isRemote: true }, attributes: { 'saga.link': 'reply' } });
    }
    const span = this.started(`${side === 'do' ? 'step' : 'compensate'} ${step}`, saga.traceId, spanIdOf(o),
      parentContext(saga, tc.tracestate), Math.min(o.start ?? at, at), {
        'saga.name': s.saga, 'saga.instance.id': s.id, 'saga.step': step, 'saga.attempt': o.attempt, 'saga.side': side,
        'messaging.message.id': o.commandId,
      }, links, SpanKind.CLIENT);
    if (c.kind === 'timer' && c.instanceId === s.id && timesOut(c.timer, side, step, o.attempt)) span.addEvent('timeout', { 'saga.attempt': o.attempt }, at);
    if (retryAt !== undefined) span.addEvent('retry', { 'saga.retry_at': new Date(retryAt).toISOString(), 'saga.next_attempt': o.attempt + 1 }, at);
    finish(span, at, outcome, error, outcome === 'failed' || outcome === 'timed_out');
  }
}

/** Whether timer `t` is the timeout of this attempt (of its instance). */
function timesOut(t: TimerRef, side: Side, step: string, attempt: number): boolean {
  // A `saga` step's timeout bounds its child's run, the attempt in flight: it names no attempt.
  if (t.kind === 'child_timeout') return side === 'do' && t.step === step;
  if (t.kind !== 'attempt_timeout' && t.kind !== 'comp_timeout') return false;
  return t.kind === (side === 'do' ? 'attempt_timeout' : 'comp_timeout') && t.step === step && t.attempt === attempt;
}

/** Sets the outcome, the status and the end time, and ends the span. */
function finish(span: Span, at: number, outcome: string, error: string | null, isError: boolean): void {
  span.setAttribute('saga.outcome', outcome);
  if (error !== null) span.setAttribute('saga.error', error);
  if (isError) span.setStatus({ code: SpanStatusCode.ERROR, ...(error === null ? {} : { message: error }) });
  span.end(at);
}

/** A context whose span is the given remote parent, or the root context. */
function parentContext(parent: ParentIds | null, tracestate: string | undefined): Context {
  if (parent === null) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: true,
    ...(tracestate === undefined ? {} : { traceState: createTraceState(tracestate) }),
  });
}
