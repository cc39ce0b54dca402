import type Database from 'better-sqlite3';
import { StoreError, StoreErrorCode } from './errors.js';

/** One schema step; `version` is the `PRAGMA user_version` the file has once it is applied. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

// Children of `instances` reference it with deferred foreign keys: inside one transaction the
// runtime may write a timer or a wait before the instance row, and the check runs at COMMIT
// (the commands had one too until migration 12). The journal has no foreign key on purpose:
// it is the source of truth, the instance row only a projection of it.
const v1 = `
CREATE TABLE journal (
  instance_id  TEXT    NOT NULL,
  seq          INTEGER NOT NULL CHECK (seq >= 1),
  type         TEXT    NOT NULL,
  type_version INTEGER NOT NULL,
  at           INTEGER NOT NULL,
  data         TEXT    NOT NULL,
  PRIMARY KEY (instance_id, seq)
) STRICT;
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;

CREATE TABLE instances (
  id              TEXT    PRIMARY KEY,
  saga            TEXT    NOT NULL,
  definition_hash TEXT    NOT NULL,
  key             TEXT,
  correlation_id  TEXT    NOT NULL,
  status          TEXT    NOT NULL CHECK (status IN ('running', 'compensating', 'completed', 'compensated', 'failed')),
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  version         INTEGER NOT NULL,
  state           TEXT    NOT NULL
) STRICT;
CREATE UNIQUE INDEX instances_saga_key ON instances (saga, key) WHERE key IS NOT NULL;
CREATE INDEX instances_created ON instances (created_at DESC, id DESC);
CREATE INDEX instances_saga_created ON instances (saga, created_at DESC, id DESC);
CREATE INDEX instances_status_created ON instances (status, created_at DESC, id DESC);
CREATE INDEX instances_saga_status ON instances (saga, status, created_at DESC, id DESC);
CREATE INDEX instances_key ON instances (key) WHERE key IS NOT NULL;
CREATE INDEX instances_correlation ON instances (correlation_id);

CREATE TABLE snapshots (
  instance_id TEXT    PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  version     INTEGER NOT NULL,
  state       TEXT    NOT NULL
) STRICT;

CREATE TABLE inbox (
  message_id TEXT    PRIMARY KEY,
  at         INTEGER NOT NULL
) STRICT;
CREATE INDEX inbox_at ON inbox (at);

CREATE TABLE outbox (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT    NOT NULL UNIQUE,
  subject    TEXT    NOT NULL,
  headers    TEXT    NOT NULL,
  data       BLOB    NOT NULL,
  created_at INTEGER NOT NULL,
  sent_at    INTEGER
) STRICT;
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE timers (
  instance_id TEXT    NOT NULL REFERENCES instances (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  timer_id    TEXT    NOT NULL,
  due_at      INTEGER NOT NULL,
  data        TEXT    NOT NULL,
  PRIMARY KEY (instance_id, timer_id)
) STRICT;
CREATE INDEX timers_due ON timers (due_at, instance_id, timer_id);

CREATE TABLE commands (
  command_id  TEXT PRIMARY KEY,
  instance_id TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  step        TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('do', 'undo'))
) STRICT;
CREATE INDEX commands_instance ON commands (instance_id);
`;

const v2 = `
CREATE TABLE waits (
  subject     TEXT NOT NULL,
  type        TEXT NOT NULL,
  instance_id TEXT NOT NULL REFERENCES instances (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  step        TEXT NOT NULL,
  PRIMARY KEY (instance_id, step)
) STRICT;
CREATE INDEX waits_subject_type ON waits (subject, type);

CREATE TABLE dead_letters (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  subject        TEXT    NOT NULL,
  reason         TEXT    NOT NULL,
  headers        TEXT    NOT NULL,
  data           BLOB    NOT NULL,
  received_at    INTEGER NOT NULL,
  delivery_count INTEGER NOT NULL,
  redriven_at    INTEGER
) STRICT;
CREATE INDEX dead_letters_pending ON dead_letters (id) WHERE redriven_at IS NULL;

CREATE TABLE definitions (
  hash          TEXT    PRIMARY KEY,
  name          TEXT    NOT NULL,
  source        TEXT    NOT NULL,
  first_seen_at INTEGER NOT NULL
) STRICT;
`;

// Issue 12: the definitions of instances that may still take an input (hashesInUse) are found
// in an index (a covering range per status) instead of the rows; events that arrived before the wait step that awaits
// them started are kept per instance until it starts (early-events.ts).
const v3 = `
CREATE INDEX instances_status_definition ON instances (status, definition_hash);

CREATE TABLE early_events (
  instance_id TEXT    NOT NULL,
  event_id    TEXT    NOT NULL,
  subject     TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  kept_at     INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  headers     TEXT    NOT NULL,
  data        BLOB    NOT NULL,
  PRIMARY KEY (instance_id, event_id)
) STRICT;
CREATE INDEX early_events_expires ON early_events (expires_at);
`;

// Issue 14: the console's exact figures at a million instances without scanning them.
// - instance_counts: instances per saga, definition hash and state, kept by triggers in the
//   transaction that writes the instance, so counts by state (/v1/stats, /metrics, every
//   poll of the console) and per definition version read a handful of rows instead of a
//   covering-index scan of every instance (200 ms at 1,000,000). Cost per write: one small
//   upsert when an instance is inserted, two when its state changes (a few times in its life);
//   a step that keeps its state (UPDATE without status) fires nothing. Together with the
//   index below, 54 us of CPU an instance (bench/insights-write-cost.ts, at load 20). first/last_created_at
//   only grow: a version's first and last start, over the rows of all its states.
// - instances_took: finished instances (partial) in the order of their saga time, with what
//   the window needs, so the durations query reads the index alone and groups while scanning.
//   Cost per write: one index entry when an instance finishes; running instances are not in it
//   (SQLite skips a partial index whose WHERE is false for the old and the new row).
const v4 = `
CREATE TABLE instance_counts (
  saga             TEXT    NOT NULL,
  definition_hash  TEXT    NOT NULL,
  status           TEXT    NOT NULL,
  count            INTEGER NOT NULL,
  first_created_at INTEGER NOT NULL,
  last_created_at  INTEGER NOT NULL,
  PRIMARY KEY (saga, definition_hash, status)
) STRICT, WITHOUT ROWID;
INSERT INTO instance_counts (saga, definition_hash, status, count, first_created_at, last_created_at)
  SELECT saga, definition_hash, status, count(*), min(created_at), max(created_at) FROM instances GROUP BY saga, definition_hash, status;
CREATE TRIGGER instances_counted AFTER INSERT ON instances BEGIN
  INSERT INTO instance_counts (saga, definition_hash, status, count, first_created_at, last_created_at)
    VALUES (NEW.saga, NEW.definition_hash, NEW.status, 1, NEW.created_at, NEW.created_at)
    ON CONFLICT DO UPDATE SET count = count + 1,
      first_created_at = min(first_created_at, excluded.first_created_at), last_created_at = max(last_created_at, excluded.last_created_at);
END;
CREATE TRIGGER instances_recounted AFTER UPDATE OF status ON instances WHEN OLD.status IS NOT NEW.status BEGIN
  UPDATE instance_counts SET count = count - 1 WHERE saga = OLD.saga AND definition_hash = OLD.definition_hash AND status = OLD.status;
  INSERT INTO instance_counts (saga, definition_hash, status, count, first_created_at, last_created_at)
    VALUES (NEW.saga, NEW.definition_hash, NEW.status, 1, NEW.created_at, NEW.created_at)
    ON CONFLICT DO UPDATE SET count = count + 1,
      first_created_at = min(first_created_at, excluded.first_created_at), last_created_at = max(last_created_at, excluded.last_created_at);
END;
CREATE TRIGGER instances_uncounted AFTER DELETE ON instances BEGIN
  UPDATE instance_counts SET count = count - 1 WHERE saga = OLD.saga AND definition_hash = OLD.definition_hash AND status = OLD.status;
END;
CREATE INDEX instances_took ON instances (status, saga, updated_at - created_at, created_at, updated_at)
  WHERE status IN ('completed', 'compensated');
`;

// Who redrove a dead letter: the operator actions are journaled with the token's name.
const v5 = `
ALTER TABLE dead_letters ADD COLUMN redriven_by TEXT;
`;

// Retention (issue 11) deletes the journal of instances it has archived. The journal stays
// append-only for every instance that may still change: a delete is refused unless the
// instance row is gone or says completed or compensated.
const v6 = `
DROP TRIGGER journal_no_delete;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
  WHEN EXISTS (SELECT 1 FROM instances WHERE id = OLD.instance_id AND status NOT IN ('completed', 'compensated'))
  BEGIN SELECT RAISE(ABORT, 'the journal of an unfinished instance is append-only'); END;
`;

// Issue 10, a cheaper step: an instance's pending timers move into its row, a `timers` JSON
// array (earliest first, as `instance-timers.ts` writes it) and `due_at`, the earliest due
// time, in a partial index of the instances that have one (with the id: the timer service
// reads due instances in (due_at, id) order, and a backlog of due timers must not be sorted
// at every claim). A step rewrites its row anyway;
// arming and cancelling timers no longer writes and deletes rows of a table with two indexes.
// Pending timers are carried over; the table goes.
const v7 = `
ALTER TABLE instances ADD COLUMN timers TEXT;
ALTER TABLE instances ADD COLUMN due_at INTEGER;
UPDATE instances SET
  timers = (SELECT json_group_array(json_object('timerId', t.timer_id, 'dueAt', t.due_at, 'data', json(t.data)))
            FROM (SELECT timer_id, due_at, data FROM timers WHERE instance_id = instances.id ORDER BY due_at, timer_id) t),
  due_at = (SELECT min(due_at) FROM timers WHERE instance_id = instances.id)
  WHERE id IN (SELECT instance_id FROM timers);
DROP TABLE timers;
CREATE INDEX instances_due ON instances (due_at, id) WHERE due_at IS NOT NULL;
`;

// Issue 10, a cheaper step: every input remembers its id in the inbox, which wrote a third
// B-tree, the index on `at`, only for the hourly prune. Ids are remembered in time order, so
// the prune finds the old rows first in rowid order instead (inbox.ts).
const v8 = `
DROP INDEX inbox_at;
`;

// Issue 10, a cheaper step: an outbox row is deleted once JetStream acknowledged it, instead
// of being marked sent (moving it from one partial index to another) and pruned a day later
// (a third pass over the table, its unique index and the sent index). Both partial indexes
// go: the table holds unsent rows only, so they are read in seq (rowid) order from the table.
// The table is copied rather than its sent rows deleted, as a day of them may be millions;
// it has no foreign keys and nothing refers to it, so the copy needs no change of
// `foreign_keys`. `sent_at` stays, always null, for readers of the older schema. Seqs keep
// growing from the last one handed out: the copy's AUTOINCREMENT counter takes the old one's.
const v9 = `
CREATE TABLE outbox_v9 (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT    NOT NULL UNIQUE,
  subject    TEXT    NOT NULL,
  headers    TEXT    NOT NULL,
  data       BLOB    NOT NULL,
  created_at INTEGER NOT NULL,
  sent_at    INTEGER
) STRICT;
INSERT INTO outbox_v9 (seq, message_id, subject, headers, data, created_at)
  SELECT seq, message_id, subject, headers, data, created_at FROM outbox WHERE sent_at IS NULL ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'outbox_v9';
INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox_v9', seq FROM sqlite_sequence WHERE name = 'outbox';
DROP TABLE outbox;
ALTER TABLE outbox_v9 RENAME TO outbox;
`;

// Issue 10, a cheaper step: two fewer B-tree pages for an instance's writes.
// - The lists' indexes in ascending order. Ids are UUIDv7, so a new instance has the greatest
//   (created_at, id): in an ascending index its entry is appended at the right edge (SQLite's
//   quick balance of one page), where in a descending one it went in at the left edge,
//   splitting pages with a full rebalance of their neighbours. The lists read them backwards,
//   newest first as before, with the same plans (no sort).
// - No index of instances by status and definition (v3): the definitions in use are read
//   from instance_counts (v4), which the triggers keep exact. A third trigger keeps the counts
//   right when an instance's saga or definition changes without its status (a rebuild that
//   corrects a row); a change with its status was already moved by instances_recounted.
// WAL frames per saga, example saga through the engine (each commit writes every page it
// touched): at concurrency 1, 76.9 before, 69.7 after; at 100, 5.5 and 5.2. The indexes are
// built again at upgrade, in the migration's transaction: 3.5 s at a million instances.
const v10 = `
DROP INDEX instances_created;
DROP INDEX instances_saga_created;
DROP INDEX instances_status_created;
DROP INDEX instances_saga_status;
CREATE INDEX instances_created ON instances (created_at, id);
CREATE INDEX instances_saga_created ON instances (saga, created_at, id);
CREATE INDEX instances_status_created ON instances (status, created_at, id);
CREATE INDEX instances_saga_status ON instances (saga, status, created_at, id);
DROP INDEX instances_status_definition;
CREATE TRIGGER instances_moved AFTER UPDATE OF saga, definition_hash ON instances
  WHEN (OLD.saga IS NOT NEW.saga OR OLD.definition_hash IS NOT NEW.definition_hash) AND OLD.status IS NEW.status BEGIN
  UPDATE instance_counts SET count = count - 1 WHERE saga = OLD.saga AND definition_hash = OLD.definition_hash AND status = OLD.status;
  INSERT INTO instance_counts (saga, definition_hash, status, count, first_created_at, last_created_at)
    VALUES (NEW.saga, NEW.definition_hash, NEW.status, 1, NEW.created_at, NEW.created_at)
    ON CONFLICT DO UPDATE SET count = count + 1,
      first_created_at = min(first_created_at, excluded.first_created_at), last_created_at = max(last_created_at, excluded.last_created_at);
END;
`;

// Since migration 10 the definitions still in use are read from instance_counts: a count
// that had drifted from the rows (a rebuild that changed a row's definition without its
// state, before instances_moved) could hide a definition an instance still needs. The counts
// are taken again from the rows, once; first and last starts keep what the triggers saw
// (retention deletes rows, not those), widened by the rows'. One pass over the instances:
// 0.8 s at a million.
const v11 = `
UPDATE instance_counts SET count = 0;
INSERT INTO instance_counts (saga, definition_hash, status, count, first_created_at, last_created_at)
  SELECT saga, definition_hash, status, count(*), min(created_at), max(created_at) FROM instances WHERE true
  GROUP BY saga, definition_hash, status
  ON CONFLICT DO UPDATE SET count = excluded.count,
    first_created_at = min(first_created_at, excluded.first_created_at), last_created_at = max(last_created_at, excluded.last_created_at);
`;

// Issue 10, a cheaper step: a command is one B-tree entry instead of three. The commands
// table had a rowid table, the unique index on command_id and an index by instance, each
// written at every command sent; the index by instance served only the foreign key's
// cascade and retention, which now deletes an instance's commands by the ids its journal
// dispatched (as PostgreSQL's retention does; its commands table has neither). Keyed by
// command_id WITHOUT ROWID, a reply's lookup is one probe as well. WAL frames per saga,
// example saga through the engine at concurrency 1 (bench/wal-pages.ts; each commit writes
// every page it touched; published rows marked every 100 ms): 71.2 before, 64.0 after, the
// commands' 11.2 then 4.5; at concurrency 100 5.45 then 5.19. The table is copied (it has
// no foreign key any more, and nothing refers to it), in the migration's transaction: three
// million commands (a million instances of the example saga) in 3.0 s, in 293 MB of pages
// instead of 613.
const v12 = `
CREATE TABLE commands_v12 (
  command_id  TEXT PRIMARY KEY,
  instance_id TEXT NOT NULL,
  step        TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('do', 'undo'))
) STRICT, WITHOUT ROWID;
INSERT INTO commands_v12 (command_id, instance_id, step, kind)
  SELECT command_id, instance_id, step, kind FROM commands ORDER BY command_id;
DROP TABLE commands;
ALTER TABLE commands_v12 RENAME TO commands;
`;

// A wait step without `match` takes only events of its instance's correlation id, yet every
// event of its type was decided against every instance waiting for the type: with a thousand
// orders waiting for their Delivered, each Delivered read and locked a thousand instances. A
// wait row now names the correlation id it waits for (null when its `match` decides), and an
// event finds the waits of its own correlation id and those of any (routing.ts). Rows written
// before have none, so they are offered every event of their type, as before, until their
// step ends; adding a nullable column rewrites nothing.
const v13 = `
ALTER TABLE waits ADD COLUMN correlation_id TEXT;
DROP INDEX waits_subject_type;
CREATE INDEX waits_correlation ON waits (subject, type, correlation_id);
`;

/**
 * Every schema step, oldest first. Append only: a released step is never edited. A step that
 * must rebuild a table (SQLite's 12-step ALTER) needs `foreign_keys` off, which cannot change
 * inside the migration transaction; add that case to `migrate` when it first arises.
 */
export const migrations: readonly Migration[] = [
  { version: 1, description: 'journal, instances, snapshots, inbox, outbox, timers, commands', sql: v1 },
  { version: 2, description: 'waits, dead letters, definitions', sql: v2 },
  { version: 3, description: 'index of instances by status and definition, early events', sql: v3 },
  { version: 4, description: 'instance counts by saga, version and state; finished instances by saga time', sql: v4 },
  { version: 5, description: 'who redrove a dead letter', sql: v5 },
  { version: 6, description: 'retention: the journal of a finished instance may be deleted', sql: v6 },
  { version: 7, description: 'timers kept in their instance row, with the earliest due time indexed', sql: v7 },
  { version: 8, description: 'no index on the inbox time: the prune goes in rowid order', sql: v8 },
  { version: 9, description: 'outbox rows deleted once published; no sent and unsent indexes', sql: v9 },
  { version: 10, description: 'the lists\' indexes ascending; definitions in use from the counts', sql: v10 },
  { version: 11, description: 'instance counts taken again from the rows', sql: v11 },
  { version: 12, description: 'commands keyed by their id alone (WITHOUT ROWID), no index by instance', sql: v12 },
  { version: 13, description: 'waits by the correlation id they wait for', sql: v13 },
];

/** The schema version this build reads and writes. */
export const schemaVersion: number = migrations.at(-1)?.version ?? 0;

/** The file's `PRAGMA user_version`. */
export function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function tableCount(db: Database.Database): number {
  const row = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").get();
  return row?.n ?? 0;
}

function tooNew(file: string, found: number): StoreError {
  return new StoreError(StoreErrorCode.SchemaVersion,
    `${file} has schema version ${found}, newer than this build understands (${schemaVersion}); upgrade sagad/sagactl`);
}

/**
 * Brings the file to the last version of `steps` in one immediate transaction: either every
 * pending step is applied or none. Refuses a file from a newer build and a non-empty file
 * that is not a sagad database. Returns the resulting version.
 */
export function migrate(db: Database.Database, steps: readonly Migration[] = migrations): number {
  steps.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${i} has version ${m.version}; versions must be 1, 2, 3, ... in order`);
  });
  const target = steps.at(-1)?.version ?? 0;
  return db.transaction(() => {
    const found = userVersion(db);
    if (found > target) throw tooNew(db.name, found);
    if (found === 0 && tableCount(db) > 0) {
      throw new StoreError(StoreErrorCode.SchemaVersion, `${db.name} already has tables but no schema version: it is not a sagad database`);
    }
    for (const m of steps.slice(found)) {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
    return target;
  }).immediate();
}

/** For read-only opens, which migrate nothing: throws unless the file is exactly at `schemaVersion`. */
export function checkSchema(db: Database.Database): void {
  const found = userVersion(db);
  if (found === schemaVersion) return;
  if (found > schemaVersion) throw tooNew(db.name, found);
  if (found === 0) throw new StoreError(StoreErrorCode.SchemaVersion, `${db.name} is not a sagad database (schema version 0)`);
  throw new StoreError(StoreErrorCode.SchemaVersion,
    `${db.name} has schema version ${found}, older than this build's ${schemaVersion}; start sagad once on it to migrate, then read it again`);
}
