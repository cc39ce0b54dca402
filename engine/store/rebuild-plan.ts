import { evolve, isTerminal, type InstanceState, type SagaEvent } from '../core/index.js';
import { StoreError, StoreErrorCode } from './errors.js';

/** One place where a stored row and the journal disagree: the stored value and the rebuilt one (null for none). */
export interface Difference {
  readonly path: string;
  readonly stored: unknown;
  readonly rebuilt: unknown;
}

/** What rebuilding one instance from its journal found, and whether it rewrote anything. */
export interface RebuildReport {
  readonly id: string;
  /** True when the instance row (or its snapshot) differed from the journal and was rewritten. */
  readonly changed: boolean;
  /** Each difference, at most {@link MAX_DIFFERENCES}, as `row.status`, `state.steps.charge.status`, `snapshot.version`. */
  readonly differences: readonly Difference[];
}

/** The instance row as stored, its columns and its state document. */
export interface StoredInstance {
  readonly saga: string;
  readonly definitionHash: string;
  readonly key: string | null;
  readonly correlationId: string;
  readonly status: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly version: number;
  /**
   * The state document; undefined when the row does not keep one (SQLite keeps it only once
   * the instance has finished), which is a difference only for a finished instance.
   */
  readonly state: unknown;
}

/** What the adapter must write: the rebuilt state as the row, and as the snapshot when `snapshot` is true. */
export interface RebuildPlan {
  readonly state: InstanceState;
  readonly report: RebuildReport;
  readonly rewriteRow: boolean;
  readonly rewriteSnapshot: boolean;
}

/** Differences listed in a report at most; the rest are counted in the last entry. */
export const MAX_DIFFERENCES = 50;

/** Pure: the paths where two JSON documents differ, depth first, object keys sorted. */
export function jsonDifferences(stored: unknown, rebuilt: unknown, path: string, out: Difference[] = []): Difference[] {
  if (Object.is(stored, rebuilt)) return out;
  const bothObjects = stored !== null && rebuilt !== null && typeof stored === 'object' && typeof rebuilt === 'object'
    && Array.isArray(stored) === Array.isArray(rebuilt);
  if (!bothObjects) {
    out.push({ path, stored: stored ?? null, rebuilt: rebuilt ?? null });
    return out;
  }
  const a = stored as Record<string, unknown>;
  const b = rebuilt as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const k of keys) {
    const sub = Array.isArray(stored) ? `${path}[${k}]` : `${path}.${k}`;
    if (!Object.hasOwn(a, k) || !Object.hasOwn(b, k)) out.push({ path: sub, stored: a[k] ?? null, rebuilt: b[k] ?? null });
    else jsonDifferences(a[k], b[k], sub, out);
  }
  return out;
}

/**
 * Pure: replays the whole journal of an instance (events already upcast) and compares the
 * result with the stored row and snapshot. The snapshot is judged against the replay at its
 * own version. Throws `SAGA_ERR_NOT_FOUND` for an instance without journal.
 */
export function planRebuild(id: string, events: readonly SagaEvent[], row: StoredInstance | undefined,
  snapshot: { version: number; state: unknown } | undefined): RebuildPlan {
  let state: InstanceState | undefined;
  let atSnapshot: InstanceState | undefined;
  for (const e of events) {
    state = evolve(state, e);
    if (snapshot !== undefined && state.version === snapshot.version) atSnapshot = state;
  }
  if (state === undefined) throw new StoreError(StoreErrorCode.NotFound, `instance ${id} has no journal`);
  const found: Difference[] = [];
  if (row === undefined) {
    // Its pending timers and wait rows are effects of decisions, not in the journal: gone with
    // the row (SQLite keeps timers in it), an unfinished instance comes back without them.
    const without = isTerminal(state) ? ''
      : '; its pending timers and waits are not in the journal and were not rebuilt: no timeout, retry or delay of it fires and no awaited event reaches it';
    found.push({ path: 'row', stored: null, rebuilt: `${state.status} instance at version ${state.version}${without}` });
  } else {
    const columns = {
      saga: state.saga, definitionHash: state.definitionHash, key: state.key, correlationId: state.correlationId, status: state.status,
      createdAt: state.createdAt, updatedAt: state.updatedAt, version: state.version,
    };
    for (const [k, v] of Object.entries(columns)) {
      const was = row[k as keyof StoredInstance];
      if (was !== v) found.push({ path: `row.${k}`, stored: was, rebuilt: v });
    }
    if (row.state !== undefined || isTerminal(state)) jsonDifferences(row.state ?? null, JSON.parse(JSON.stringify(state)) as unknown, 'state', found);
  }
  const rewriteRow = found.length > 0;
  let rewriteSnapshot = false;
  if (snapshot !== undefined) {
    const before = found.length;
    if (atSnapshot === undefined) found.push({ path: 'snapshot.version', stored: snapshot.version, rebuilt: `at most ${state.version}` });
    else jsonDifferences(snapshot.state, JSON.parse(JSON.stringify(atSnapshot)) as unknown, 'snapshot', found);
    rewriteSnapshot = found.length > before;
  }
  const differences = found.length <= MAX_DIFFERENCES ? found
    : [...found.slice(0, MAX_DIFFERENCES - 1), { path: '...', stored: `${found.length - MAX_DIFFERENCES + 1} more differences`, rebuilt: null }];
  return { state, rewriteRow, rewriteSnapshot, report: { id, changed: rewriteRow || rewriteSnapshot, differences } };
}
