import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { InstanceStatus } from '../core/index.js';
import { startBackground } from './background.js';
import { definitions, type Definitions } from './definitions.js';
import { DEAD_COUNT_SQL, deadLetters, type DeadLetters } from './dlq.js';
import { earlyEvents, type EarlyEvents } from './early-events.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { inbox, type Inbox } from './inbox.js';
import { DURATIONS_SQL, durationGroups, insights, type DurationCount, type DurationGroup, type Insights } from './insights.js';
import { COUNT_BY_STATUS_SQL, instances, type Instances, type InstancesInternal, type StateCacheLimits } from './instances.js';
import { journal, type Journal } from './journal.js';
import { instanceList, type InstanceList } from './list.js';
import { checkSchema, migrate } from './migrations.js';
import { BACKLOG_SQL, outbox, type Outbox } from './outbox.js';
import { rebuilds, type Rebuilds } from './rebuild.js';
import { retention, type Retention } from './retention.js';
import { routing, type Routing } from './routing.js';
import { TIMER_COUNT_SQL, timers, type Timers } from './timers.js';
import { journalUpcasters, type Upcasters } from './upcast.js';

export interface StoreOptions {
  /** FULL (default): a committed transaction survives power loss. NORMAL: it survives a process crash only. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** Open an existing file for reading only (sagactl --db beside a running server); migrates nothing. */
  readonly readonly?: boolean;
  /** Journal events of an instance between two snapshots; default 100. */
  readonly snapshotEvery?: number;
  /** Readers of old journal event versions, used by `rebuild` and `eventsAfter`; default the registered `journalUpcasters`. */
  readonly upcasters?: Upcasters;
  /** How long a write waits for another connection's lock, ms; default 5000. */
  readonly busyTimeout?: number;
  /**
   * A worker thread (background.ts) checkpoints the WAL, instead of the commit that crosses
   * SQLite's threshold, and answers `gauges()`, as sagad has it. Default false: one thread,
   * as a tool wants.
   */
  readonly background?: boolean;
  /** Told about a failing background checkpoint; default: a process warning. */
  readonly onBackgroundError?: (message: string) => void;
  /** How many saved states are kept in memory and their estimated size together; default `STATE_CACHE_LIMITS` (instances.ts). */
  readonly stateCache?: StateCacheLimits;
}

/** The counts /metrics and /v1/stats report. */
export interface Gauges {
  readonly instances: { saga: string; status: InstanceStatus; count: number }[];
  readonly timersPending: number;
  readonly outboxBacklog: number;
  /** When the oldest unsent outbox row was committed (epoch ms); null when none waits. */
  readonly outboxOldestAt: number | null;
  readonly deadLetters: number;
}

/** The whole SQLite store: every method but `gauges` is synchronous and runs on one connection. */
export interface Store extends Journal, Instances, Pick<InstancesInternal, 'cacheUse'>, InstanceList, Inbox, Outbox, Timers, Routing, DeadLetters, Definitions, EarlyEvents, Rebuilds, Insights, Retention {
  readonly file: string;
  readonly readonly: boolean;
  /**
   * Runs `fn` in one transaction (BEGIN IMMEDIATE, so it never fails to upgrade a read lock):
   * everything it wrote commits together or, when it throws, nothing does. Nested calls
   * become savepoints. `fn` must be synchronous.
   */
  tx<T>(fn: () => T): T;
  /**
   * Whether the connection has a transaction open. SQLite rolls a whole transaction back by
   * itself on some errors (a full disk, an I/O error, out of memory), savepoints and all: the
   * group commit asks before it goes on with the next input of a batch.
   */
  inTransaction(): boolean;
  /** The counts, read on the background thread when there is one (they scan whole tables), else here. */
  gauges(): Promise<Gauges>;
  /**
   * Saga time of the instances created at or after `since` that completed or compensated, exact,
   * by saga and state (`durationGroups`); read on the background thread when there is one
   * (it reads one index entry per such instance), else here.
   */
  sagaDurations(since: number): Promise<DurationGroup[]>;
  close(): void;
}

function connect(file: string, readonly: boolean): Database.Database {
  if (readonly) {
    if (file !== ':memory:' && !existsSync(file)) throw new StoreError(StoreErrorCode.NotFound, `${file} does not exist; nothing to read`);
    return new Database(file, { readonly: true, fileMustExist: true });
  }
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  return new Database(file);
}

/**
 * Opens (creating it and its directory when needed) and migrates the store. A read-only open
 * migrates nothing and throws `SAGA_ERR_SCHEMA_VERSION` unless the file has exactly this
 * build's schema; every write through it throws SQLITE_READONLY.
 */
export function openStore(file: string, opts: StoreOptions = {}): Store {
  const readonly = opts.readonly === true;
  const snapshotEvery = opts.snapshotEvery ?? 100;
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 1) throw new RangeError(`snapshotEvery must be a positive integer, not ${snapshotEvery}`);
  const db = connect(file, readonly);
  try {
    db.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeout ?? 5000)}`);
    db.pragma('foreign_keys = ON');
    if (readonly) {
      checkSchema(db);
    } else {
      db.pragma('journal_mode = WAL');
      // A statement that fires triggers (the instance counts', at an instance insert or a
      // change of state) keeps the pages it changes in a statement journal, which SQLite
      // spills to a temporary file past 64 KiB: dozens of write calls per saga. In memory it
      // holds a statement's pages; what this connection sorts (the unfinished instances' ids
      // at start, a page of a list) is small, and the counts run on the background thread's.
      db.pragma('temp_store = MEMORY');
      db.pragma(`synchronous = ${opts.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      migrate(db);
    }
    const log = journal(db, opts.upcasters ?? journalUpcasters);
    const projection = instances(db, log, snapshotEvery, opts.stateCache);
    const route = routing(db);
    // A rolled-back transaction or savepoint may have saved states and indexed commands the
    // database no longer holds: forget them all (rare: only failing inputs roll back).
    const forget = (): void => {
      projection.forgetCached();
      route.forgetCommands();
    };
    const run = db.transaction((fn: () => unknown) => fn());
    const guarded = <T>(fn: () => T): T => {
      try {
        return (readonly ? run.deferred(fn) : run.immediate(fn)) as T;
      } catch (err) {
        forget();
        throw err;
      }
    };
    const retire = retention(db);
    const parts = {
      ...log, ...projection, ...instanceList(db), ...inbox(db), ...outbox(db, opts.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'),
      ...timers(db, projection), ...route, ...deadLetters(db), ...definitions(db), ...earlyEvents(db), ...insights(db), ...retire,
      ...rebuilds(db, log, projection),
      // Deleted instances take their command rows along: the remembered commands go too.
      purge: (refs: Parameters<typeof retire.purge>[0]) => {
        const deleted = retire.purge(refs);
        if (deleted.length > 0) route.forgetCommands();
        return deleted;
      },
    };
    const here = (): Gauges => ({
      instances: parts.countByStatus(), timersPending: parts.timerCount(), outboxBacklog: parts.backlog(), outboxOldestAt: parts.oldestUnsentAt(), deadLetters: parts.deadCount(),
    });
    const wanted = !readonly && file !== ':memory:' && opts.background === true;
    // The committing connection still checkpoints past 10,000 pages (40 MB of WAL), should the
    // thread fall behind; it then finds most pages already copied.
    if (wanted) db.pragma('wal_autocheckpoint = 10000');
    const report = opts.onBackgroundError ?? ((m: string) => process.emitWarning(`sagad store: ${m}`));
    const background = wanted ? startBackground(file, opts.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL', report) : null;
    const gauges = async (): Promise<Gauges> => {
      if (background === null) return here();
      const r = await background.read({ instances: COUNT_BY_STATUS_SQL, timers: TIMER_COUNT_SQL, backlog: BACKLOG_SQL, dead: DEAD_COUNT_SQL })
        .catch((err: unknown) => {
          report(`counting on the background thread failed, counted here instead: ${err instanceof Error ? err.message : String(err)}`);
          return null;
        });
      if (r === null) return here();
      const n = (rows: unknown[]) => (rows[0] as { n?: number } | undefined)?.n ?? 0;
      const oldest = (r.backlog[0] as { oldest?: number | null } | undefined)?.oldest ?? null;
      return { instances: r.instances as Gauges['instances'], timersPending: n(r.timers), outboxBacklog: n(r.backlog), outboxOldestAt: oldest, deadLetters: n(r.dead) };
    };
    const durations = db.prepare<[number], DurationCount>(DURATIONS_SQL);
    const sagaDurations = async (since: number): Promise<DurationGroup[]> => {
      const rows = background === null ? null : await background.read({ d: { sql: DURATIONS_SQL, params: [since] } })
        .then((r) => r.d as DurationCount[], (err: unknown) => {
          report(`saga times on the background thread failed, read here instead: ${err instanceof Error ? err.message : String(err)}`);
          return null;
        });
      return durationGroups(rows ?? durations.all(since));
    };
    return {
      file,
      readonly,
      ...parts,
      sagaDurations,
      // A read-only connection cannot take the write lock BEGIN IMMEDIATE asks for.
      tx: guarded,
      inTransaction: () => db.inTransaction,
      gauges,
      close: () => {
        background?.stop();
        db.close();
      },
    };
  } catch (err) {
    db.close();
    throw err;
  }
}
