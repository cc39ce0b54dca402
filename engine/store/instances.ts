import type Database from 'better-sqlite3';
import { evolve, isTerminal, type InstanceState, type InstanceStatus } from '../core/index.js';
import { StoreError, StoreErrorCode, isSqliteError } from './errors.js';
import { editTimers, isNoEdit, parseTimers, timerColumns, type PendingTimer, type TimerEdit } from './instance-timers.js';
import type { JournalInternal } from './journal.js';

/**
 * The instance projection the API reads, kept beside the journal and rebuildable from it.
 * The row keeps the columns the lists and indexes need at every step, but the state document
 * only once the instance has finished (`state` is the JSON `null` while it runs, or a state
 * of an earlier version in a row written before this layout): a running instance's state is
 * its journal's, replayed from its latest snapshot, and in memory (the cache below) for the
 * instances this process has saved. A state document of about 2 KB rewritten at every step
 * left room for one or two rows per page, so each input dirtied a page of its own: the
 * instances table was nearly half of the pages a saga's commits wrote.
 */
export interface Instances {
  /**
   * Upserts the projection row of `state` and, once `snapshotEvery` journal events have passed
   * since the last snapshot, a snapshot. Call it after `append`, in the same transaction: a
   * running instance's state is read back from the journal.
   * Throws `SAGA_ERR_DUPLICATE_KEY` when another instance of the saga has the same key.
   * With `timers`, the instance's pending timers change in the same row write. `fresh` says
   * the caller found no row for the instance in this transaction: nothing is read back then.
   */
  saveInstance(state: InstanceState, timers?: TimerEdit, fresh?: boolean): void;
  /**
   * The projected state, or undefined: from memory, the finished row, or the journal (the
   * latest snapshot and the later events). Shared with the store's cache: never modify it.
   */
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

/** The `state` column of a running instance's row: its state is the journal's. */
export const STATE_NOT_KEPT = 'null';

/** The state a row's `state` column holds for its `version`, or undefined when it keeps none (running, or older than the row). */
export function keptState(version: number, json: string): InstanceState | undefined {
  const kept = JSON.parse(json) as InstanceState | null;
  return kept !== null && kept.version === version ? kept : undefined;
}

type Params = [string, string, string, string | null, string, string, number, number, number, string, string | null, number | null];

/**
 * A saved state kept in memory with the version of its latest snapshot, when known its pending
 * timers (as in its row's `timers` column), and its estimated size (`StateCacheLimits`).
 */
interface Cached { readonly state: InstanceState; readonly snapshotAt: number; readonly timers: readonly PendingTimer[] | undefined; readonly size: number }

/**
 * How many saved states the store keeps in memory, and how big they may be together. A state's
 * size is estimated, never measured: the characters of JSON of its latest snapshot and of the
 * journal events after it (UTF-8 bytes when read back from the database). Whatever a state
 * holds came in through an event (the input in SagaStarted, a step's output in StepSucceeded),
 * so the estimate is at least the size of its data; it overcounts what events carry and the
 * state drops, by at most `snapshotEvery` events' worth, since a snapshot is the state itself.
 * The events are serialized for the journal anyway, so the estimate costs a step nothing.
 */
export interface StateCacheLimits {
  readonly count: number;
  readonly size: number;
}

/** The default: enough for every instance of a busy server with small inputs; 1 MB inputs fill it at 64. */
export const STATE_CACHE_LIMITS: StateCacheLimits = { count: 10_000, size: 64 * 1024 * 1024 };

/** What the store needs beyond the interface: forgetting cached states when a transaction rolls back, the timers kept in the rows. */
export interface InstancesInternal extends Instances {
  /** Drops every cached state, or only the instance's with `id`; the next read goes to the database. */
  forgetCached(id?: string): void;
  /** The state kept in memory for the instance, as readers are served it; undefined when none is. */
  cachedState(id: string): InstanceState | undefined;
  /** How many states are kept in memory, and the sum of their estimated sizes (`StateCacheLimits`). */
  cacheUse(): { count: number; size: number };
  /** The instance's pending timers, earliest first; undefined when there is no such instance. */
  pendingTimers(id: string): readonly PendingTimer[] | undefined;
  /** Replaces the instance's pending timers (its row's `timers` and `due_at`); false when there is no such instance. */
  setTimers(id: string, timers: readonly PendingTimer[]): boolean;
}

/**
 * Prepares the projection and snapshot statements once. The states last saved are kept
 * parsed in memory (within `limits`, oldest dropped first), so a step neither reads its
 * instance row nor parses its JSON again; the store drops the cache whenever a transaction or
 * savepoint rolls back, so it never holds a state the database does not. A state dropped is
 * read from the journal again, as after a restart.
 */
export function instances(db: Database.Database, log: JournalInternal, snapshotEvery: number, limits = STATE_CACHE_LIMITS): InstancesInternal {
  // A new instance is inserted with its timers; `upsertTimers` also rewrites them when the row
  // exists (a save of a state not in the cache), `upsert` leaves them.
  const insert = `INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state, timers, due_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
      status = excluded.status, updated_at = excluded.updated_at, version = excluded.version, state = excluded.state`;
  const upsert = db.prepare<Params>(insert);
  const upsertTimers = db.prepare<Params>(`${insert}, timers = excluded.timers, due_at = excluded.due_at`);
  // An instance's saga, key, correlation id and definition never change, and its status only
  // at a few steps: not rewriting them spares SQLite the upkeep of their indexes. Likewise
  // `due_at` (in the partial index the timer service scans) is set only when it changes, and
  // the timers only when an input arms or cancels one.
  const updates = new Map<string, Database.Statement<unknown[]>>();
  const update = (cols: readonly string[], values: readonly unknown[]): number => {
    const k = cols.join(',');
    let st = updates.get(k);
    if (st === undefined) {
      st = db.prepare<unknown[]>(`UPDATE instances SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`);
      updates.set(k, st);
    }
    return st.run(...values).changes;
  };
  const timersById = db.prepare<[string], { timers: string | null }>('SELECT timers FROM instances WHERE id = ?');
  const byId = db.prepare<[string], { version: number; state: string }>('SELECT version, state FROM instances WHERE id = ?');
  const byKey = db.prepare<[string, string], { id: string; version: number; state: string }>('SELECT id, version, state FROM instances WHERE saga = ? AND key = ?');
  const snapshot = db.prepare<[string], { version: number; state: string }>('SELECT version, state FROM snapshots WHERE instance_id = ?');
  // octet_length reads a value's size without its content.
  const snapshotVersion = db.prepare<[string], { version: number; size: number }>('SELECT version, octet_length(state) AS size FROM snapshots WHERE instance_id = ?');
  const eventsSize = db.prepare<[string, number], { size: number }>(
    'SELECT coalesce(sum(octet_length(data)), 0) AS size FROM journal WHERE instance_id = ? AND seq > ?');
  const putSnapshot = db.prepare<[string, number, string]>(`
    INSERT INTO snapshots (instance_id, version, state) VALUES (?, ?, ?)
    ON CONFLICT (instance_id) DO UPDATE SET version = excluded.version, state = excluded.state`);
  const counts = db.prepare<[], { saga: string; status: InstanceStatus; count: number }>(COUNT_BY_STATUS_SQL);
  const open = db.prepare<[], { id: string }>(
    "SELECT id FROM instances WHERE status IN ('running', 'compensating') ORDER BY created_at, id");

  const cache = new Map<string, Cached>();
  let cachedSize = 0;
  const forget = (id: string): void => {
    const known = cache.get(id);
    if (known === undefined) return;
    cache.delete(id);
    cachedSize -= known.size;
  };
  /** Keeps `entry` as the newest, then drops the oldest while over either limit (`entry` too when it alone is). */
  const remember = (id: string, entry: Cached): void => {
    forget(id);
    cache.set(id, entry);
    cachedSize += entry.size;
    while (cache.size > limits.count || cachedSize > limits.size) {
      const oldest = cache.keys().next();
      if (oldest.done === true) break;
      forget(oldest.value);
    }
  };

  const currentTimers = (id: string): readonly PendingTimer[] | undefined => {
    const known = cache.get(id);
    if (known?.timers !== undefined) return known.timers;
    const row = timersById.get(id);
    return row === undefined ? undefined : parseTimers(row.timers);
  };

  /**
   * Writes the row, its `state` column only when `json` is the finished state's (else the
   * column keeps what it had, or STATE_NOT_KEPT in a new row); returns the timers it now
   * holds, or undefined when it left them unknown.
   */
  const write = (s: InstanceState, json: string | undefined, known: Cached | undefined, edit: TimerEdit | undefined, fresh: boolean): readonly PendingTimer[] | undefined => {
    const before = isNoEdit(edit) ? undefined : (fresh ? undefined : currentTimers(s.id)) ?? [];
    const after = before === undefined || edit === undefined ? known?.timers : editTimers(before, edit);
    if (known !== undefined) {
      const cols = ['updated_at', 'version'];
      const values: unknown[] = [s.updatedAt, s.version];
      if (json !== undefined) {
        cols.push('state');
        values.push(json);
      }
      if (known.state.status !== s.status) {
        cols.unshift('status');
        values.unshift(s.status);
      }
      // editTimers keeps the untouched entries: compared by reference, the old list needs no
      // second JSON.stringify to tell whether the column changes.
      if (before !== undefined && after !== undefined && (before.length !== after.length || before.some((t, i) => t !== after[i]))) {
        const now = timerColumns(after);
        cols.push('timers');
        values.push(now.json);
        if ((before[0]?.dueAt ?? null) !== now.dueAt) {
          cols.push('due_at');
          values.push(now.dueAt);
        }
      }
      if (update(cols, [...values, s.id]) === 1) return after;
    }
    const t = timerColumns(after ?? []);
    try {
      (before === undefined ? upsert : upsertTimers).run(
        s.id, s.saga, s.definitionHash, s.key, s.correlationId, s.status, s.createdAt, s.updatedAt, s.version, json ?? STATE_NOT_KEPT, t.json, t.dueAt);
    } catch (err) {
      if (isSqliteError(err, 'SQLITE_CONSTRAINT_UNIQUE')) {
        throw new StoreError(StoreErrorCode.DuplicateKey, `saga ${s.saga} already has an instance with key ${String(s.key)}`, { cause: err });
      }
      throw err;
    }
    return after;
  };

  /**
   * The estimated size of `s` (`StateCacheLimits`): the cached state's (none for a new
   * instance) plus what the append before this save wrote; else, for a state not cached (or
   * saved without its append), the latest snapshot's and the later events' in the database,
   * this transaction's append included.
   */
  const sizeOf = (s: InstanceState, known: Cached | undefined): number => {
    const added = log.appendedSize(s.id, known?.state.version ?? 0, s.version);
    if (added !== undefined) return (known?.size ?? 0) + added;
    const snap = snapshotVersion.get(s.id);
    return (snap?.size ?? 0) + (eventsSize.get(s.id, snap?.version ?? 0)?.size ?? 0);
  };

  const save = (s: InstanceState, edit?: TimerEdit, fresh = false): void => {
    const known = cache.get(s.id);
    let snapshotAt = known?.snapshotAt ?? (fresh ? 0 : snapshotVersion.get(s.id)?.version ?? 0);
    const snapshotDue = s.version - snapshotAt >= snapshotEvery;
    const finished = isTerminal(s);
    // A running instance's state is serialized only for its snapshots.
    const json = finished || snapshotDue ? JSON.stringify(s) : undefined;
    const timers = write(s, finished ? json : undefined, known, edit, fresh);
    if (snapshotDue && json !== undefined) {
      putSnapshot.run(s.id, s.version, json);
      snapshotAt = s.version;
    }
    // A finished instance is rarely read again (a late reply, an operator): it leaves the
    // cache, so that the garbage collector does not keep walking thousands of them.
    if (finished) forget(s.id);
    else remember(s.id, { state: s, snapshotAt, timers, size: json?.length ?? sizeOf(s, known) });
  };
  const saveTx = db.transaction(save);

  const replay = (id: string, fromScratch: boolean): InstanceState => {
    const snap = fromScratch ? undefined : snapshot.get(id);
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
  };

  /** The state of the row read: from memory, the row when it keeps it, else the journal. */
  const read = (id: string, row: { version: number; state: string }): InstanceState =>
    cache.get(id)?.state ?? keptState(row.version, row.state) ?? replay(id, false);

  return {
    // Inside a caller's transaction the caller's savepoint already makes the save atomic.
    saveInstance: (state, timers, fresh) => (db.inTransaction ? save(state, timers, fresh) : saveTx(state, timers, fresh)),
    getInstance(id) {
      const known = cache.get(id);
      if (known !== undefined) return known.state;
      const row = byId.get(id);
      return row === undefined ? undefined : read(id, row);
    },
    findByKey(saga, key) {
      const row = byKey.get(saga, key);
      return row === undefined ? undefined : read(row.id, row);
    },
    forgetCached(id) {
      if (id !== undefined) return forget(id);
      cache.clear();
      cachedSize = 0;
    },
    cachedState: (id) => cache.get(id)?.state,
    cacheUse: () => ({ count: cache.size, size: cachedSize }),
    pendingTimers: currentTimers,
    setTimers(id, timers) {
      const before = currentTimers(id);
      if (before === undefined) return false;
      const was = timerColumns(before);
      const now = timerColumns(timers);
      const cols = was.dueAt === now.dueAt ? ['timers'] : ['timers', 'due_at'];
      if (update(cols, was.dueAt === now.dueAt ? [now.json, id] : [now.json, now.dueAt, id]) !== 1) return false;
      const known = cache.get(id);
      if (known !== undefined) cache.set(id, { ...known, timers });
      return true;
    },
    rebuild: (id, opts) => replay(id, opts?.fromScratch === true),
    countByStatus: () => counts.all(),
    nonTerminalIds: () => open.all().map((r) => r.id),
  };
}
