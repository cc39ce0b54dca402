import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { definitions, type Definitions } from './definitions.js';
import { deadLetters, type DeadLetters } from './dlq.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { inbox, type Inbox } from './inbox.js';
import { instances, type Instances } from './instances.js';
import { journal, type Journal } from './journal.js';
import { instanceList, type InstanceList } from './list.js';
import { checkSchema, migrate } from './migrations.js';
import { outbox, type Outbox } from './outbox.js';
import { routing, type Routing } from './routing.js';
import { timers, type Timers } from './timers.js';
import type { Upcasters } from './upcast.js';

export interface StoreOptions {
  /** FULL (default): a committed transaction survives power loss. NORMAL: it survives a process crash only. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** Open an existing file for reading only (sagactl --db beside a running server); migrates nothing. */
  readonly readonly?: boolean;
  /** Journal events of an instance between two snapshots; default 100. */
  readonly snapshotEvery?: number;
  /** Readers of old journal event versions, used by `rebuild` and `eventsAfter`. */
  readonly upcasters?: Upcasters;
  /** How long a write waits for another connection's lock, ms; default 5000. */
  readonly busyTimeout?: number;
}

/** The whole SQLite store: every method is synchronous and runs on one connection. */
export interface Store extends Journal, Instances, InstanceList, Inbox, Outbox, Timers, Routing, DeadLetters, Definitions {
  readonly file: string;
  readonly readonly: boolean;
  /**
   * Runs `fn` in one transaction (BEGIN IMMEDIATE, so it never fails to upgrade a read lock):
   * everything it wrote commits together or, when it throws, nothing does. Nested calls
   * become savepoints. `fn` must be synchronous.
   */
  tx<T>(fn: () => T): T;
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
      db.pragma(`synchronous = ${opts.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      migrate(db);
    }
    const log = journal(db, opts.upcasters ?? {});
    const projection = instances(db, log, snapshotEvery);
    const run = db.transaction((fn: () => unknown) => fn());
    // A rolled-back transaction or savepoint may have saved states the database no longer
    // holds: forget them all (rare: only failing inputs roll back).
    const guarded = <T>(fn: () => T): T => {
      try {
        return (readonly ? run.deferred(fn) : run.immediate(fn)) as T;
      } catch (err) {
        projection.forgetCached();
        throw err;
      }
    };
    return {
      file,
      readonly,
      ...log,
      ...projection,
      ...instanceList(db),
      ...inbox(db),
      ...outbox(db, opts.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'),
      ...timers(db),
      ...routing(db),
      ...deadLetters(db),
      ...definitions(db),
      // A read-only connection cannot take the write lock BEGIN IMMEDIATE asks for.
      tx: guarded,
      close: () => void db.close(),
    };
  } catch (err) {
    db.close();
    throw err;
  }
}
