/**
 * The JSON documents the API returns for instances and their journals (DESIGN section 4).
 * Pure functions of stored data, so sagactl renders a database read offline the same way.
 */
import { elementNames, emptyStep, groupElementNames, leafSteps, publicStepState, type CompiledSaga, type InstanceState, type StepState } from '../core/index.js';
import type { InstanceSummary, JournalEntry, TimerRow } from '../store/index.js';
import type { EngineStats } from '../runtime/port.js';

/** Pure: epoch ms as an ISO 8601 time, null kept. */
export function isoTime(ms: number): string;
export function isoTime(ms: number | null): string | null;
export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export interface CompensationDocument {
  readonly state: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface StepDocument {
  readonly name: string;
  /** The public step state: `publicStepState`, folding the compensation in. */
  readonly state: string;
  readonly attempts: number;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly lastError: string | null;
  readonly compensation: CompensationDocument | null;
  /** A `saga` step: the id of the child instance it started. */
  readonly child?: string;
}

/** A pending durable timer of an instance: what fires next, for which step and attempt. */
export interface TimerDocument {
  /** `attempt_timeout`, `retry`, `wait_timeout`, `comp_timeout`, `comp_retry`, `delay`, `child_timeout` or `deadline`. */
  readonly kind: string;
  /** Null for the saga deadline. */
  readonly step: string | null;
  /** Null for the saga deadline and a wait's timeout. */
  readonly attempt: number | null;
  readonly dueAt: string;
}

export interface InstanceDocument {
  readonly id: string;
  readonly saga: string;
  readonly key: string | null;
  readonly correlationId: string;
  readonly state: string;
  readonly definitionHash: string;
  readonly input: unknown;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly deadlineAt: string | null;
  readonly steps: StepDocument[];
  /** Why the instance compensates (or compensated, or failed compensating). */
  readonly reason?: string;
  /** For a child saga: the parent instance whose `saga` step started it. */
  readonly parentId?: string;
  readonly parent?: { readonly id: string; readonly saga: string; readonly step: string };
  /** The step whose failure stopped the instance, for a `failed` one. */
  readonly failure?: { readonly step: string; readonly error: string };
  /** Its pending timers, earliest first; present when the caller passed them. */
  readonly timers?: TimerDocument[];
}

/** An instance as lists show it. */
export interface InstanceSummaryDocument {
  readonly id: string;
  readonly saga: string;
  readonly key: string | null;
  readonly correlationId: string;
  readonly state: string;
  readonly definitionHash: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface HistoryEntryDocument {
  readonly seq: number;
  readonly type: string;
  readonly version: number;
  readonly at: string;
  readonly data: unknown;
}

function stepDocument(name: string, st: StepState): StepDocument {
  const c = st.compensation;
  return {
    name, state: publicStepState(st), attempts: st.attempt,
    startedAt: isoTime(st.startedAt), finishedAt: isoTime(st.finishedAt), lastError: st.lastError,
    compensation: c === null ? null : {
      state: c.status, attempts: c.attempt, lastError: c.lastError, startedAt: isoTime(c.startedAt), finishedAt: isoTime(c.finishedAt),
    },
  };
}

/** Pure: a stored timer as the instance document shows it. */
export function timerDocument(row: TimerRow): TimerDocument {
  const t = row.data;
  return {
    kind: t.kind, step: t.kind === 'deadline' ? null : t.step, attempt: 'attempt' in t ? t.attempt : null,
    dueAt: isoTime(row.dueAt),
  };
}

/**
 * Pure: the instance document. Steps come in definition order, those not reached yet as
 * `pending`; without its definition (`def` undefined) only the steps the instance reached
 * are listed, in the order they were reached. With `timers`, the document lists them too.
 */
export function instanceDocument(state: InstanceState, def: CompiledSaga | undefined, timers?: readonly TimerRow[]): InstanceDocument {
  // A forEach stage's elements follow it, in element order; a group's steps element by element.
  const names = def === undefined ? [] : stepOrder(def, state);
  // A set, not names.includes: a forEach of 10,000 elements has tens of thousands of steps.
  const listed = new Set(names);
  for (const name of Object.keys(state.steps)) if (!listed.has(name)) names.push(name);
  const sagaSteps = new Set(def === undefined ? [] : leafSteps(def).filter((l) => l.kind === 'saga').map((l) => l.name));
  const doc: InstanceDocument = {
    id: state.id, saga: state.saga, key: state.key, correlationId: state.correlationId, state: state.status,
    definitionHash: state.definitionHash, input: state.input,
    createdAt: isoTime(state.createdAt), updatedAt: isoTime(state.updatedAt), deadlineAt: isoTime(state.deadlineAt),
    steps: names.map((name) => withChild(sagaSteps, name, stepDocument(name, state.steps[name] ?? emptyStep), state.steps[name]?.commands)),
  };
  const extra: { reason?: string; failure?: { step: string; error: string }; timers?: TimerDocument[] } = {};
  if (state.compensation !== null) extra.reason = state.compensation.reason.message;
  if (state.status === 'failed') extra.failure = { step: state.failure.step, error: state.failure.error };
  if (timers !== undefined) extra.timers = timers.map(timerDocument);
  const parent = state.parent === undefined ? {} : { parentId: state.parent.id, parent: { ...state.parent } };
  return { ...doc, ...extra, ...parent };
}

/** The instance's step names in definition order: a forEach stage, then its elements (a group's: each element's steps in order). */
function stepOrder(def: CompiledSaga, state: InstanceState): string[] {
  const out: string[] = [];
  for (const stage of def.stages) {
    if (stage.kind !== 'forEach' || stage.steps === undefined) {
      const leaves = stage.kind === 'parallel' ? stage.branches.flat() : stage.kind === 'forEach' ? [stage.step] : [stage];
      out.push(...leaves.flatMap((l) => [l.name, ...elementNames(state, l.name)]));
      continue;
    }
    out.push(stage.name);
    const n = state.steps[stage.name]?.items?.length ?? 0;
    for (let i = 0; i < n; i++) out.push(...groupElementNames(stage, i));
  }
  return out;
}

/** A `saga` step's document names the child it started last (its id is the child's instance id). */
function withChild(sagaSteps: ReadonlySet<string>, name: string, doc: StepDocument, commands: readonly string[] | undefined): StepDocument {
  const child = sagaSteps.has(name) ? commands?.at(-1) : undefined;
  return child === undefined ? doc : { ...doc, child };
}

/** Pure: the list view of an instance row. */
export function instanceSummary(row: InstanceSummary): InstanceSummaryDocument {
  return {
    id: row.id, saga: row.saga, key: row.key, correlationId: row.correlationId, state: row.status,
    definitionHash: row.definitionHash, createdAt: isoTime(row.createdAt), updatedAt: isoTime(row.updatedAt),
  };
}

/** Pure: a journal entry as the history shows it, the event data as stored. */
export function historyEntry(entry: JournalEntry): HistoryEntryDocument {
  return { seq: entry.seq, type: entry.type, version: entry.version, at: isoTime(entry.at), data: entry.data };
}

/** `GET /v1/stats`; `consumerLag` is null when nobody measured it (a database read offline). */
export interface StatsDocument {
  readonly instances: { readonly saga: string; readonly state: string; readonly count: number }[];
  readonly timersPending: number;
  readonly outboxBacklog: number;
  readonly deadLetters: number;
  readonly consumerLag: number | null;
}

/** Pure: the stats document of the engine's (or a store's) counts. */
export function statsDocument(s: Omit<EngineStats, 'consumerLag'> & { readonly consumerLag: number | null }): StatsDocument {
  return {
    instances: s.instances.map((r) => ({ saga: r.saga, state: r.state, count: r.count })),
    timersPending: s.timersPending, outboxBacklog: s.outboxBacklog, deadLetters: s.deadLetters, consumerLag: s.consumerLag,
  };
}
