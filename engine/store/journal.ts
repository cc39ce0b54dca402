import type Database from 'better-sqlite3';
import { eventVersion, type SagaEvent } from '../core/index.js';
import { StoreError, StoreErrorCode, isSqliteError } from './errors.js';
import { upcast, type Upcasters } from './upcast.js';

/** One journal row as stored: `version` is the event type's schema version when it was written. */
export interface JournalEntry {
  readonly seq: number;
  readonly type: string;
  readonly version: number;
  readonly at: number;
  readonly data: unknown;
}

/** The append-only journal, the source of truth for every instance. */
export interface Journal {
  /**
   * Appends `events` as seq `fromVersion + 1`, `+ 2`, ... atomically and returns the new head.
   * Optimistic concurrency: throws `SAGA_ERR_VERSION_CONFLICT`, writing nothing, unless the
   * journal's head is exactly `fromVersion`.
   */
  append(instanceId: string, fromVersion: number, events: readonly SagaEvent[]): number;
  /** Every event of the instance as stored (not upcast), oldest first, after `seq` (0: all); empty when unknown. */
  history(instanceId: string, seq?: number): JournalEntry[];
  /** The events after `seq`, oldest first, upcast to the current versions, ready for `evolve`. */
  eventsAfter(instanceId: string, seq: number): SagaEvent[];
  /** The seq of the instance's last event, 0 when it has none. */
  journalHead(instanceId: string): number;
}

/** What the instance projection reads beyond the interface: the size of the last append. */
export interface JournalInternal extends Journal {
  /**
   * The characters of JSON the last `append` wrote, when it appended the instance's events
   * after `from` up to `head`; undefined when the last append was another's. The store's
   * cache of states takes it as the size of what a step added to the state (instances.ts).
   */
  appendedSize(instanceId: string, from: number, head: number): number | undefined;
}

interface Row { seq: number; type: string; type_version: number; at: number; data: string }

/** Prepares the journal statements once. */
export function journal(db: Database.Database, upcasters: Upcasters): JournalInternal {
  const head = db.prepare<[string], { head: number | null }>('SELECT max(seq) AS head FROM journal WHERE instance_id = ?');
  const insert = db.prepare<[string, number, string, number, number, string]>(
    'INSERT INTO journal (instance_id, seq, type, type_version, at, data) VALUES (?, ?, ?, ?, ?, ?)');
  const after = db.prepare<[string, number], Row>(
    'SELECT seq, type, type_version, at, data FROM journal WHERE instance_id = ? AND seq > ? ORDER BY seq');

  const journalHead = (instanceId: string): number => head.get(instanceId)?.head ?? 0;
  const conflict = (instanceId: string, fromVersion: number, cause?: unknown) => new StoreError(StoreErrorCode.VersionConflict,
    `journal of ${instanceId} is at version ${journalHead(instanceId)}, not ${fromVersion}: another writer appended first`, { cause });

  // The events are serialized here anyway: their length costs nothing more to keep.
  let last = { instanceId: '', from: -1, head: -1, size: 0 };
  const appendRows = (instanceId: string, fromVersion: number, events: readonly SagaEvent[]): number => {
    // A first append reads nothing: an instance's journal, when it has one, starts at seq 1
    // (retention deletes a journal whole), and the primary key refuses a second seq 1.
    if ((fromVersion !== 0 || events.length === 0) && journalHead(instanceId) !== fromVersion) throw conflict(instanceId, fromVersion);
    let seq = fromVersion;
    let size = 0;
    for (const e of events) {
      const version = eventVersion[e.type];
      if (version === undefined) throw new Error(`cannot journal unknown event type ${String(e.type)}`);
      seq += 1;
      const json = JSON.stringify(e);
      size += json.length;
      try {
        insert.run(instanceId, seq, e.type, version, e.at, json);
      } catch (err) {
        if (isSqliteError(err, 'SQLITE_CONSTRAINT_PRIMARYKEY')) throw conflict(instanceId, fromVersion, err);
        throw err;
      }
    }
    last = { instanceId, from: fromVersion, head: seq, size };
    return seq;
  };
  const appendTx = db.transaction(appendRows);

  return {
    // Inside a caller's transaction, the caller's rollback undoes a partial append.
    append: (instanceId, fromVersion, events) => (db.inTransaction ? appendRows : appendTx)(instanceId, fromVersion, events),
    history: (instanceId, seq = 0) => after.all(instanceId, seq).map((r) => ({
      seq: r.seq, type: r.type, version: r.type_version, at: r.at, data: JSON.parse(r.data) as unknown,
    })),
    eventsAfter: (instanceId, seq) => after.all(instanceId, seq).map((r) => upcast(r.type, r.type_version, JSON.parse(r.data), upcasters)),
    journalHead,
    appendedSize: (instanceId, from, head) => (last.instanceId === instanceId && last.from === from && last.head === head ? last.size : undefined),
  };
}
