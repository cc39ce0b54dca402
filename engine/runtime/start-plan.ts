import { start as startInstance, startKey, type CompiledSaga, type Decision, type Env, type InstanceState, type ParentLink } from '../core/index.js';
import { SagaError } from '../errors.js';
import { identifierProblem } from '../json-bounds.js';
import type { InstanceChange, StorePort } from '../store/port.js';
import type { TraceCarrier } from '../tracing/context.js';
import type { SagaTracing } from '../tracing/spans.js';
import { changeOf } from './change.js';
import { schemaProblem } from './message-schema.js';
import type { StartCommand } from './port.js';
import type { Registry } from './registry.js';

/** A start as the engine takes it: an API or NATS start, a trigger event's (with the event), or a child's (with its parent). */
export type StartRequest = StartCommand & { event?: unknown; causationId?: string; trace?: TraceCarrier | undefined; version?: number; parent?: ParentLink };

/** A start, decided but not yet written: with its change, definition and decision; or the instance that already exists. */
export type PlannedStart = NewStart | { readonly state: InstanceState; readonly change: null; readonly decision: null };

export interface NewStart {
  readonly state: InstanceState;
  readonly change: InstanceChange;
  readonly def: CompiledSaga;
  readonly decision: Decision;
}

/** What planning a start reads: the store, the loaded definitions, tracing when configured, and the input's time and ids. */
export interface PlanDeps {
  readonly store: StorePort;
  readonly registry: Registry;
  readonly tracing: SagaTracing | undefined;
  readonly env: Env;
}

/**
 * Finds the instance a start names (by id, then by key), or decides a new one without writing
 * it. Ids and keys are checked before anything is written, and a trigger's input against its
 * event's schema at the envelope's version.
 */
export async function planStart(deps: PlanDeps, cmd: StartRequest): Promise<PlannedStart> {
  const { store, registry } = deps;
  // An instance started by id is found first: a client repeating an accepted start is answered
  // with it even after a reload removed its saga, which the instance still runs under.
  if (cmd.id !== undefined) {
    const existing = await store.getInstance(cmd.id);
    if (existing !== undefined) {
      if (existing.saga !== cmd.saga) throw new SagaError('SAGA_ERR_INVALID_STATE', `instance ${cmd.id} already exists for saga ${existing.saga}`);
      return { state: existing, change: null, decision: null };
    }
  }
  const def = registry.current(cmd.saga);
  if (def === undefined) throw new SagaError('SAGA_ERR_UNKNOWN_SAGA', `no saga named ${cmd.saga} is loaded (loaded: ${registry.all().map((s) => s.name).join(', ') || 'none'})`);
  const env = deps.env;
  const id = cmd.id ?? env.newId();
  const correlationId = cmd.correlationId ?? id;
  const event = cmd.event ?? null;
  let key = cmd.key ?? null;
  if (key === null) {
    const k = startKey(def, cmd.input, event, id, correlationId);
    if (!k.ok) throw new SagaError('SAGA_ERR_INVALID_INPUT', `cannot compute the key of ${def.name}: ${k.error}`);
    key = k.key;
  }
  // Ids and keys end up in headers and indexes: a CR/LF or a huge key must be refused before anything is written.
  // `.` and `..` are path segments every HTTP client folds away: /v1/instances/.. could not be asked for.
  const dots = id === '.' || id === '..' ? `id ${JSON.stringify(id)} cannot be named in a URL path (/v1/instances/${id}); choose another` : null;
  // NATS trims header values (as String.prototype.trim does): ' a' and 'a' would both be Saga-Id a,
  // and share the Idempotency-Key a/step/do a participant deduplicates on.
  const padded = /^\s|\s$/.test(id)
    ? `id ${JSON.stringify(id)} begins or ends with white space, which the NATS headers of its commands (Saga-Id, Idempotency-Key) drop: participants would take it for the id without it; trim it`
    : null;
  const problem = dots ?? padded ?? identifierProblem('id', id) ?? identifierProblem('correlationId', correlationId) ??
    (key === null ? null : identifierProblem(cmd.key === undefined ? `the key computed by ${def.start.key?.source ?? 'start.key'}` : 'key', key));
  if (problem !== null) throw new SagaError('SAGA_ERR_INVALID_INPUT', problem);
  if (key !== null) {
    const existing = await store.findByKey(def.name, key);
    if (existing !== undefined) return { state: existing, change: null, decision: null };
  }
  if (def.start.on !== null) {
    // A trigger event is checked at its envelope's version; an API start's input as version 1.
    const problem = schemaProblem(def, def.start.on.type, cmd.version ?? 1, cmd.input, 'input');
    if (problem !== null) throw new SagaError('SAGA_ERR_INVALID_INPUT', problem);
  }
  const trace = deps.tracing?.begin(def.name, cmd.trace, id);
  const d = startInstance(def, {
    id, input: cmd.input, key, correlationId, event, causationId: cmd.causationId ?? id, ...(trace === undefined ? {} : { trace }),
    ...(cmd.parent === undefined ? {} : { parent: cmd.parent }),
  }, env);
  const change = changeOf(def, undefined, d);
  // A start always journals SagaStarted.
  if (change === null) throw new Error(`the start of ${def.name} decided no event`);
  return { state: d.state, change, def, decision: d };
}

/**
 * The carrier a child saga's start continues: its parent's saga span, so that parent and child
 * are one trace. The parent's context is the one tracing began for it in this process (a child
 * started by its parent's first step is decided before the parent is committed), else the one
 * stored with it; undefined when tracing is off or the parent is untraced.
 */
export async function parentCarrier(deps: { readonly store: StorePort; readonly tracing?: SagaTracing | undefined }, parent: ParentLink): Promise<TraceCarrier | undefined> {
  if (deps.tracing === undefined) return undefined;
  const tc = deps.tracing.begunFor(parent.id) ?? (await deps.store.getInstance(parent.id))?.trace;
  return tc === undefined ? undefined : { traceparent: tc.traceparent, tracestate: tc.tracestate };
}
