import type Database from 'better-sqlite3';
import { evolve, isTerminal, type InstanceState, type InstanceStatus } from '../core/index.js';
import { StoreError, StoreErrorCode, isSqliteError } from './errors.js';
import type { Journal } from './journal.js';

/** The instance projection the API reads, kept beside the journal and rebuildable from it. */
export interface Instances {
  /**
   * Upserts the projection row of `state` and, once `snapshotEvery` journal events have passed
   * since the last snapshot, a snapshot. Call it after `append`, in the same transaction.
   * Throws `SAGA_ERR_DUPLICATE_KEY` when another instance of the saga has the same key.
   */
  saveInstance(state: InstanceState): void;
  /** The projected state, or undefined. Shared with the store's cache: never modify it. */
  getInstance(id: string): InstanceState | undefined;
  /** The instance of `saga` with business key `key`, or undefined. */
  findByKey(saga: string, key: string): InstanceState | undefined;
  /**
   * The state rebuilt from the journal alone: the latest snapshot (unless `fromScratch`) and
   * the later events, upcast and replayed through core `evolve`. Writes nothing.
   * Throws `SAGA_ERR_NOT_FOUND` for an instance without journal.
   */
  rebuild(id: string, opts?: { fromScratch?: boolean }): InstanceState;
  /** Number of instances per saga and status, sorted by saga then status. */
  countByStatus(): { saga: string; status: InstanceStatus; count: number }[];
  /** Ids of instances still in progress (`running`, `compensating`), oldest first. */
  nonTerminalIds(): string[];
}

/** Instances per saga and status (`countByStatus`), also run by the background thread. */
// From the counts triggers keep (migration 3): a handful of rows, however many instances.
export const COUNT_BY_STATUS_SQL = `SELECT saga, status, sum(count) AS count FROM instance_counts
  GROUP BY saga, status HAVING sum(count) > 0 ORDER BY saga, status`;

type Params = [string, string, string, string | null, string, string, number, number, number, string];

/** A saved state kept in memory with the version of its latest snapshot. */
interface Cached { readonly state: InstanceState; readonly snapshotAt: number }

/** What the store needs beyond the interface: forgetting cached states when a transaction rolls back. */
export interface InstancesInternal extends Instances {
  /** Drops every cached state; the next read goes to the database. */
  forgetCached(): void;
}

/**
 * Prepares the projection and snapshot statements once. The states last saved are kept
 * parsed in memory (up to `cacheSize`, oldest dropped first), so a step neither reads its
 * instance row nor parses its JSON again; the store drops the cache whenever a transaction or
 * savepoint rolls back, so it never holds a state the database does not.
 */
export function instances(db: Database.Database, log: Journal, snapshotEvery: number, cacheSize = 10_000): InstancesInternal {
  const upsert = db.prepare<Params>(`
    INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
      status = excluded.status, updated_at = excluded.updated_at, version = excluded.version, state = excluded.state`);
  // An instance's saga, key, correlation id and definition never change, and its status only
  // at a few steps: not rewriting them spares SQLite the upkeep of their indexes.
  const step = db.prepare<[number, number, string, string]>('UPDATE instances SET updated_at = ?, version = ?, state = ? WHERE id = ?');
  const turn = db.prepare<[string, number, number, string, string]>('UPDATE instances SET status = ?, updated_at = ?, version = ?, state = ? WHERE id = ?');
  const byId = db.prepare<[string], { state: string }>('SELECT state FROM instances WHERE id = ?');
  const byKey = db.prepare<[string, string], { id: string; state: string }>('SELECT id, state FROM instances WHERE saga = ? AND key = ?');
  const snapshot = db.prepare<[string], { version: number; state: string }>('SELECT version, state FROM snapshots WHERE instance_id = ?');
  const snapshotVersion = db.prepare<[string], { version: number }>('SELECT version FROM snapshots WHERE instance_id = ?');
  const putSnapshot = db.prepare<[string, number, string]>(`
    INSERT INTO snapshots (instance_id, version, state) VALUES (?, ?, ?)
    ON CONFLICT (instance_id) DO UPDATE SET version = excluded.version, state = excluded.state`);
  const counts = db.prepare<[], { saga: string; status: InstanceStatus; count: number }>(COUNT_BY_STATUS_SQL);
  const open = db.prepare<[], { id: string }>(
    "SELECT id FROM instances WHERE status IN ('running', 'compensating') ORDER BY created_at, id");

  const cache = new Map<string, Cached>();
  const remember = (id: string, entry: Cached): void => {
    cache.delete(id);
    cache.set(id, entry);
    if (cache.size > cacheSize) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
  };

  const write = (s: InstanceState, json: string, before: InstanceState | undefined): void => {
    if (before !== undefined) {
      const r = before.status === s.status ? step.run(s.updatedAt, s.version, json, s.id) : turn.run(s.status, s.updatedAt, s.version, json, s.id);
      if (r.changes === 1) return;
    }
    try {
      upsert.run(s.id, s.saga, s.definitionHash, s.key, s.correlationId, s.status, s.createdAt, s.updatedAt, s.version, json);
    } catch (err) {
      if (isSqliteError(err, 'SQLITE_CONSTRAINT_UNIQUE')) {
        throw new StoreError(StoreErrorCode.DuplicateKey, `saga ${s.saga} already has an instance with key ${String(s.key)}`, { cause: err });
      }
      throw err;
    }
  };

  const save = (s: InstanceState): void => {
    const json = JSON.stringify(s);
    const known = cache.get(s.id);
    write(s, json, known?.state);
    let snapshotAt = known?.snapshotAt ?? snapshotVersion.get(s.id)?.version ?? 0;
    if (s.version - snapshotAt >= snapshotEvery) {
      putSnapshot.run(s.id, s.version, json);
      snapshotAt = s.version;
    }
    // A finished instance is rarely read again (a late reply, an operator): it leaves the
    // cache, so that the garbage collector does not keep walking thousands of them.
    if (isTerminal(s)) cache.delete(s.id);
    else remember(s.id, { state: s, snapshotAt });
  };
  const saveTx = db.transaction(save);

  const read = (id: string, json: string): InstanceState => cache.get(id)?.state ?? JSON.parse(json) as InstanceState;

  return {
    // Inside a caller's transaction the caller's savepoint already makes the save atomic.
    saveInstance: (state) => (db.inTransaction ? save(state) : saveTx(state)),
    getInstance(id) {
      const known = cache.get(id);
      if (known !== undefined) return known.state;
      const row = byId.get(id);
      return row === undefined ? undefined : read(id, row.state);
    },
    findByKey(saga, key) {
      const row = byKey.get(saga, key);
      return row === undefined ? undefined : read(row.id, row.state);
    },
    forgetCached: () => cache.clear(),
    rebuild(id, opts) {
      const snap = opts?.fromScratch === true ? undefined : snapshot.get(id);
      let state = snap === undefined ? undefined : JSON.parse(snap.state) as InstanceState;
      const from = snap?.version ?? 0;
      const events = log.eventsAfter(id, from);
      for (const e of events) state = evolve(state, e);
      if (state === undefined) throw new StoreError(StoreErrorCode.NotFound, `instance ${id} has no journal`);
      // evolve counts applied events; a mismatch means a snapshot that does not fit its journal.
      if (state.version !== from + events.length) {
        throw new Error(`rebuild of ${id}: state version ${state.version} after replaying seq ${from + 1}..${from + events.length}`);
      }
      return state;
    },
    countByStatus: () => counts.all(),
    nonTerminalIds: () => open.all().map((r) => r.id),
  };
}
