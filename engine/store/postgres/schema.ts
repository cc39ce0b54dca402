import type pg from 'pg';
import { StoreError, StoreErrorCode } from '../errors.js';
import { APPLY_FUNCTION, APPLY_FUNCTION_V5 } from './apply-sql.js';
import { APPLY_FUNCTION_V10, APPLY_FUNCTION_V11, APPLY_FUNCTION_V12, APPLY_FUNCTION_V6, APPLY_FUNCTION_V9 } from './apply-v6.js';

/** One schema step; `version` is the number recorded in `sagad_schema` once it is applied. */
export interface PgMigration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

// Lean on purpose (issue 10): a step writes an inbox row, one journal row per event, the
// instance row (a HOT update: no indexed column changes while a saga runs, and fillfactor
// leaves room on the page), an outbox row per message, a timer row and a command row. Only
// the indexes some query needs exist. States and event data are text holding JSON, not
// jsonb: the adapter parses them in Node anyway, and text skips the server's conversion on
// every write; lz4 compresses big states inline faster than the default pglz. Prune scans
// use BRIN indexes, which cost next to nothing on insert. No foreign keys: the journal is the
// source of truth and every child row is written by the same function in the same transaction.
const v1 = `
CREATE TABLE journal (
  instance_id  text     COLLATE "C" NOT NULL,
  seq          integer  NOT NULL CHECK (seq >= 1),
  type         text     NOT NULL,
  type_version smallint NOT NULL,
  at           bigint   NOT NULL,
  data         text     COMPRESSION lz4 NOT NULL,
  PRIMARY KEY (instance_id, seq)
);

CREATE TABLE instances (
  id              text    COLLATE "C" PRIMARY KEY,
  saga            text    NOT NULL,
  definition_hash text    NOT NULL,
  key             text,
  correlation_id  text    NOT NULL,
  status          text    NOT NULL CHECK (status IN ('running', 'compensating', 'completed', 'compensated', 'failed')),
  created_at      bigint  NOT NULL,
  updated_at      bigint  NOT NULL,
  version         integer NOT NULL,
  state           text    COMPRESSION lz4 NOT NULL
) WITH (fillfactor = 60);
CREATE UNIQUE INDEX instances_saga_key ON instances (saga, key) WHERE key IS NOT NULL;
CREATE INDEX instances_created ON instances (created_at DESC, id DESC);
CREATE INDEX instances_saga_created ON instances (saga, created_at DESC, id DESC);
CREATE INDEX instances_status_created ON instances (status, created_at DESC, id DESC);
CREATE INDEX instances_key ON instances (key) WHERE key IS NOT NULL;
CREATE INDEX instances_correlation ON instances (correlation_id);

CREATE TABLE snapshots (
  instance_id text    PRIMARY KEY,
  version     integer NOT NULL,
  state       text    COMPRESSION lz4 NOT NULL
);

CREATE TABLE inbox (
  message_id text   PRIMARY KEY,
  at         bigint NOT NULL
);
CREATE INDEX inbox_at ON inbox USING brin (at);

CREATE TABLE outbox (
  seq           bigserial PRIMARY KEY,
  message_id    text      NOT NULL UNIQUE,
  subject       text      NOT NULL,
  headers       text      NOT NULL,
  data          bytea     NOT NULL,
  created_at    bigint    NOT NULL,
  sent_at       bigint,
  claimed_until bigint
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent ON outbox USING brin (sent_at);

CREATE TABLE timers (
  instance_id   text   NOT NULL,
  timer_id      text   NOT NULL,
  due_at        bigint NOT NULL,
  data          text   NOT NULL,
  claimed_until bigint,
  PRIMARY KEY (instance_id, timer_id)
);
CREATE INDEX timers_due ON timers (due_at);
CREATE INDEX timers_claimed ON timers (claimed_until) WHERE claimed_until IS NOT NULL;

CREATE TABLE commands (
  command_id  text PRIMARY KEY,
  instance_id text NOT NULL,
  step        text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('do', 'undo'))
);

CREATE TABLE waits (
  instance_id text   NOT NULL,
  step        text   NOT NULL,
  subject     text   NOT NULL,
  type        text   NOT NULL,
  ord         bigserial,
  PRIMARY KEY (instance_id, step)
);
CREATE INDEX waits_subject_type ON waits (subject, type, ord);

CREATE TABLE dead_letters (
  id             bigserial PRIMARY KEY,
  subject        text      NOT NULL,
  reason         text      NOT NULL,
  headers        text      NOT NULL,
  data           bytea     NOT NULL,
  received_at    bigint    NOT NULL,
  delivery_count integer   NOT NULL,
  redriven_at    bigint
);
CREATE INDEX dead_letters_pending ON dead_letters (id) WHERE redriven_at IS NULL;

CREATE TABLE definitions (
  hash          text   PRIMARY KEY,
  name          text   NOT NULL,
  source        text   NOT NULL,
  first_seen_at bigint NOT NULL
);
`;

// Issue 12: as SQLite's v3 (migrations.ts).
const v2 = `
CREATE INDEX instances_status_definition ON instances (status, definition_hash);

CREATE TABLE early_events (
  instance_id text   COLLATE "C" NOT NULL,
  event_id    text   NOT NULL,
  subject     text   NOT NULL,
  type        text   NOT NULL,
  kept_at     bigint NOT NULL,
  expires_at  bigint NOT NULL,
  headers     text   NOT NULL,
  data        bytea  NOT NULL,
  PRIMARY KEY (instance_id, event_id)
);
CREATE INDEX early_events_expires ON early_events (expires_at);
`;

// Issue 14: counts by saga and state (/v1/stats, /metrics) and per definition version read
// this index alone (an index-only scan, once vacuum has marked the pages of finished
// instances all-visible) instead of the whole table: at 1,000,000 instances 0.4 to 0.6 s
// instead of 1.8 to 2 s for the counts, 0.3 to 1.2 s instead of 1.4 to 2 s per version, on a
// machine at load 19 (bench/insights-pg.ts). Cost per write: one entry (about 100 bytes) when
// an instance is inserted and when its state changes, updates that are not HOT anyway
// (status is in instances_status_created); steps keep their HOT updates, since saga,
// definition_hash and created_at never change. Built at upgrade inside the migration
// transaction: writes wait while it builds (9 s at a million rows).
const v3 = `
CREATE INDEX instances_saga_version_status ON instances (saga, definition_hash, status, created_at);
`;

// Per-instance order of outbox rows across replicas: each row knows its instance, and the
// unsent rows of an instance are found by one probe of a partial index, which sagad_apply
// (now v5) runs before inserting new rows. Rows written before this step have no instance
// and are ordered as before. Adding a nullable column rewrites nothing; the index holds only
// unsent rows, so it builds in no time at upgrade.
const v5 = `
ALTER TABLE outbox ADD COLUMN instance_id text COLLATE "C";
CREATE INDEX outbox_unsent_instance ON outbox (instance_id, seq) WHERE sent_at IS NULL;
` + APPLY_FUNCTION_V5;

// Issue 9's throughput, as SQLite's migration 10: the lists' indexes ascending, read backwards
// for the newest-first lists (the same plans). With UUIDv7 ids a new instance has the greatest
// (created_at, id), so in an ascending B-tree its entry goes to the rightmost leaf, which
// PostgreSQL caches (no descent from the root) and splits leaving it full; in a descending
// one every entry went to the leftmost leaf, found from the root, and each split left a
// half-full page behind that no later entry would fill: the three indexes grew at twice
// their size. 200,000 instances inserted in batches of 50: 2,957, 3,359 and 3,359 pages
// before, 1,661, 1,881 and 1,881 after, the inserts 7.5 s then 5.5 s. Built at upgrade inside
// the migration transaction, writes waiting meanwhile.
const v8 = `
DROP INDEX instances_created;
DROP INDEX instances_saga_created;
DROP INDEX instances_status_created;
CREATE INDEX instances_created ON instances (created_at, id);
CREATE INDEX instances_saga_created ON instances (saga, created_at, id);
CREATE INDEX instances_status_created ON instances (status, created_at, id);
`;

/** Every schema step, oldest first. Append only: a released step is never edited. */
export const pgMigrations: readonly PgMigration[] = [
  { version: 1, description: 'journal, instances, snapshots, inbox, outbox, timers, commands, waits, dead letters, definitions, sagad_apply', sql: v1 + APPLY_FUNCTION },
  { version: 2, description: 'index of instances by status and definition, early events', sql: v2 },
  { version: 3, description: 'instances by saga, definition version and state', sql: v3 },
  // Who redrove a dead letter: the operator actions are journaled with the token's name.
  { version: 4, description: 'who redrove a dead letter', sql: 'ALTER TABLE dead_letters ADD COLUMN redriven_by text;' },
  { version: 5, description: 'outbox rows by instance, published in commit order per instance', sql: v5 },
  // Issue 9's throughput: the same function, set-based per batch (apply-v6.ts), and instance
  // rows one to a page (a state is about 1.9 KB): at fillfactor 60 two rows shared a page and
  // 0.4 of the 2 updates per saga that change no indexed column found no room on it, so wrote
  // all 9 index entries anew; at 40 all of them are HOT (new pages only; existing rows keep theirs).
  { version: 6, description: 'sagad_apply decides a batch in a few statements, never by a sequential scan; instances fillfactor 40', sql: `${APPLY_FUNCTION_V6}
ALTER TABLE instances SET (fillfactor = 40);` },
  // Issue 9's throughput: a published outbox row is deleted, as SQLite's are since its
  // migration 9, instead of rewritten with its sent_at (a new row version and two index
  // entries per message). Every row left is unsent, so outbox_unsent duplicated the primary
  // key and only cost an index entry per message. Rows marked sent before stay until
  // pruneSent's pass (their sent_at and its BRIN index stay for it); until then the reads of
  // unsent rows skip them as before.
  { version: 7, description: 'outbox rows deleted once published; no index of unsent rows by seq', sql: 'DROP INDEX outbox_unsent;' },
  { version: 8, description: 'the lists\' indexes of instances ascending', sql: v8 },
  { version: 9, description: 'sagad_apply tells a conflict on an instance named d from a duplicate', sql: APPLY_FUNCTION_V9 },
  // The same function (apply-v6.ts): a reply leaves out of `follows` only the rows of its
  // command's earlier commits, not an unsent row committed with the command. Replacing the
  // function locks no table; replicas of the previous build, running meanwhile, call the new
  // one with the same arguments.
  { version: 10, description: 'sagad_apply: a reply proves only the earlier commits of its command\'s instance delivered', sql: APPLY_FUNCTION_V10 },
  // The same function (apply-v6.ts): an input's version check covers the instances it read
  // without changing them (a parent or child a link left as it was). Replacing the function
  // locks no table; replicas of the previous build call it with inputs that name no reads,
  // which it decides as v10 did (those builds keep the race this step closes).
  { version: 11, description: 'sagad_apply: an input conflicts on an instance it read at a version it no longer has', sql: APPLY_FUNCTION_V11 },
  // As SQLite's migration 13: a wait row names the correlation id it waits for (null when its
  // `match` decides), and an event reads the waits of its own correlation id and those of any,
  // instead of every wait for its type. Rows written before have none: offered every event of
  // their type, as before. Adding a nullable column rewrites nothing; the index is built at
  // upgrade (the waits table holds running waits only), replacing the one by type alone.
  { version: 12, description: 'waits by the correlation id they wait for', sql: `
ALTER TABLE waits ADD COLUMN correlation_id text COLLATE "C";
DROP INDEX waits_subject_type;
CREATE INDEX waits_correlation ON waits (subject, type, correlation_id, ord);
${APPLY_FUNCTION_V12}` },
];

/** The schema version this build reads and writes. */
export const pgSchemaVersion: number = pgMigrations.at(-1)?.version ?? 0;

// Any constant: every sagad replica takes the same one, nothing else should.
const MIGRATION_LOCK = 7_305_472_013;
const ourTables = ['journal', 'instances', 'snapshots', 'inbox', 'outbox', 'timers', 'commands', 'waits', 'dead_letters', 'definitions', 'early_events'];

async function foundVersion(c: pg.ClientBase): Promise<number | null> {
  const t = await c.query<{ present: boolean }>("SELECT to_regclass('sagad_schema') IS NOT NULL AS present");
  if (t.rows[0]?.present !== true) return null;
  const r = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM sagad_schema');
  return r.rows[0]?.v ?? 0;
}

function tooNew(where: string, found: number): StoreError {
  return new StoreError(StoreErrorCode.SchemaVersion,
    `${where} has schema version ${found}, newer than this build understands (${pgSchemaVersion}); upgrade sagad/sagactl`);
}

/**
 * Brings the database to the last version of `steps` in one transaction under a
 * transaction-scoped advisory lock, so replicas starting together migrate once and the
 * others find it done. Refuses a newer schema and a database whose tables of our names
 * were not made by sagad. Returns the resulting version.
 */
export async function migratePg(c: pg.ClientBase, where: string, steps: readonly PgMigration[] = pgMigrations): Promise<number> {
  const target = steps.at(-1)?.version ?? 0;
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    let found = await foundVersion(c);
    if (found === null) {
      const clash = await c.query<{ name: string }>(
        'SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY($1)', [ourTables]);
      if (clash.rows.length > 0) {
        throw new StoreError(StoreErrorCode.SchemaVersion,
          `${where} already has tables named ${clash.rows.map((r) => r.name).join(', ')} but no sagad_schema table: it is not a sagad database`);
      }
      await c.query('CREATE TABLE sagad_schema (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      found = 0;
    }
    if (found > target) throw tooNew(where, found);
    for (const m of steps.slice(found)) {
      await c.query(m.sql);
      await c.query('INSERT INTO sagad_schema (version, description) VALUES ($1, $2)', [m.version, m.description]);
    }
    await c.query('COMMIT');
    return target;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** For read-only opens, which migrate nothing: throws unless the database is exactly at `pgSchemaVersion`. */
export async function checkPgSchema(c: pg.ClientBase, where: string): Promise<void> {
  const found = await foundVersion(c);
  if (found === pgSchemaVersion) return;
  if (found === null || found === 0) throw new StoreError(StoreErrorCode.SchemaVersion, `${where} is not a sagad database (no sagad_schema table)`);
  if (found > pgSchemaVersion) throw tooNew(where, found);
  throw new StoreError(StoreErrorCode.SchemaVersion,
    `${where} has schema version ${found}, older than this build's ${pgSchemaVersion}; start sagad once on it to migrate, then read it again`);
}
