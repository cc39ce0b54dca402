import type Database from 'better-sqlite3';
import { isTerminal, type InstanceStatus } from '../core/index.js';
import { isSqliteError, StoreError, StoreErrorCode } from './errors.js';
import { STATE_NOT_KEPT, keptState, type InstancesInternal } from './instances.js';
import type { Journal } from './journal.js';
import { planRebuild, type RebuildReport } from './rebuild-plan.js';

/** Rebuilding instance rows from the journal, the source of truth (`sagactl admin rebuild`). */
export interface Rebuilds {
  /**
   * Replays the instance's whole journal and rewrites its row (and snapshot) where they
   * differ from the replay; reports each difference. A second run finds none and writes
   * nothing. Throws `SAGA_ERR_NOT_FOUND` for an instance without journal, and
   * `SAGA_ERR_DUPLICATE_KEY`, writing nothing, when another instance's row holds its key.
   */
  rebuildInstance(id: string): RebuildReport;
  /** Ids of the instances that have a journal, after `after` (null: from the first) in id order, at most `limit`. */
  journalInstanceIds(after: string | null, limit: number): string[];
}

interface Row {
  saga: string; definition_hash: string; key: string | null; correlation_id: string; status: InstanceStatus;
  created_at: number; updated_at: number; version: number; state: string;
}

/**
 * Prepares the rebuild statements once. The state compared is the one readers are served:
 * the projection's in memory when it has one (a running instance's row keeps none), else the
 * row's; after a rewrite the instance's state in memory is dropped.
 */
export function rebuilds(db: Database.Database, log: Journal, projection: Pick<InstancesInternal, 'cachedState' | 'forgetCached'>): Rebuilds {
  const row = db.prepare<[string], Row>(
    'SELECT saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state FROM instances WHERE id = ?');
  const snapshot = db.prepare<[string], { version: number; state: string }>('SELECT version, state FROM snapshots WHERE instance_id = ?');
  const upsert = db.prepare<[string, string, string, string | null, string, string, number, number, number, string]>(`
    INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET saga = excluded.saga, definition_hash = excluded.definition_hash, key = excluded.key,
      correlation_id = excluded.correlation_id, status = excluded.status, created_at = excluded.created_at,
      updated_at = excluded.updated_at, version = excluded.version, state = excluded.state`);
  const putSnapshot = db.prepare<[string, number, string]>(`
    INSERT INTO snapshots (instance_id, version, state) VALUES (?, ?, ?)
    ON CONFLICT (instance_id) DO UPDATE SET version = excluded.version, state = excluded.state`);
  const ids = db.prepare<[string, number], { id: string }>(
    'SELECT DISTINCT instance_id AS id FROM journal WHERE instance_id > ? ORDER BY instance_id LIMIT ?');

  const rebuild = db.transaction((id: string): RebuildReport => {
    const r = row.get(id);
    const snap = snapshot.get(id);
    const plan = planRebuild(id, log.eventsAfter(id, 0), r === undefined ? undefined : {
      saga: r.saga, definitionHash: r.definition_hash, key: r.key, correlationId: r.correlation_id, status: r.status,
      createdAt: r.created_at, updatedAt: r.updated_at, version: r.version, state: projection.cachedState(id) ?? keptState(r.version, r.state),
    }, snap === undefined ? undefined : { version: snap.version, state: JSON.parse(snap.state) as unknown });
    const s = plan.state;
    const json = JSON.stringify(s);
    // As a step writes it: the state document in the row of a finished instance only.
    if (plan.rewriteRow) {
      try {
        upsert.run(s.id, s.saga, s.definitionHash, s.key, s.correlationId, s.status, s.createdAt, s.updatedAt, s.version, isTerminal(s) ? json : STATE_NOT_KEPT);
      } catch (err) {
        // The key of the replay is held by another instance's row (a row that drifted, or was
        // lost and its key taken meanwhile): an error of this instance, not of the store.
        if (isSqliteError(err, 'SQLITE_CONSTRAINT_UNIQUE')) {
          throw new StoreError(StoreErrorCode.DuplicateKey, `another instance of saga ${s.saga} holds the key ${String(s.key)} of instance ${s.id}`, { cause: err });
        }
        throw err;
      }
    }
    if (plan.rewriteSnapshot) putSnapshot.run(s.id, s.version, json);
    return plan.report;
  });

  return {
    rebuildInstance(id) {
      const report = rebuild.immediate(id);
      // The store keeps recent states parsed in memory: after a rewrite this one would be stale.
      if (report.changed) projection.forgetCached(id);
      return report;
    },
    journalInstanceIds: (after, limit) => ids.all(after ?? '', limit).map((r) => r.id),
  };
}
