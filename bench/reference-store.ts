import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';

/** A saga's state row as the reference loop keeps it. */
export interface Row { id: string; step: number; status: string; version: number; last_command: string | null; data: string }

/** What one input writes: an event row appended, and the saga's row after it. */
export interface Write { readonly type: string; readonly at: number; readonly payload: string; readonly row: Row }

/** Where the reference loop makes its inputs durable: one call, one transaction, one commit (one fsync). */
export interface RefStore {
  commit(writes: readonly Write[]): Promise<void>;
  close(): Promise<void>;
}

/** `REF_DB` chooses: a postgres:// or postgresql:// URL, or a SQLite file path. */
export function openRefStore(target: string): Promise<RefStore> {
  return /^postgres(ql)?:\/\//.test(target) ? openPostgres(target) : Promise.resolve(openSqlite(target));
}

/** SQLite, WAL, synchronous=FULL: per input an INSERT of the event and an upsert of the row, all in one transaction. */
function openSqlite(file: string): RefStore {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS events (saga_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, at INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (saga_id, seq)) STRICT;
    CREATE TABLE IF NOT EXISTS sagas (id TEXT PRIMARY KEY, step INTEGER NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL,
      last_command TEXT, updated_at INTEGER NOT NULL, data TEXT NOT NULL) STRICT;`);
  const append = db.prepare<[string, number, string, number, string]>('INSERT INTO events (saga_id, seq, type, at, data) VALUES (?, ?, ?, ?, ?)');
  const upsert = db.prepare<[string, number, string, number, string | null, number, string]>(`
    INSERT INTO sagas (id, step, status, version, last_command, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET step = excluded.step, status = excluded.status, version = excluded.version,
      last_command = excluded.last_command, updated_at = excluded.updated_at, data = excluded.data`);
  const commit = db.transaction((writes: readonly Write[]) => {
    for (const w of writes) {
      append.run(w.row.id, w.row.version, w.type, w.at, w.payload);
      upsert.run(w.row.id, w.row.step, w.row.status, w.row.version, w.row.last_command, w.at, w.row.data);
    }
  });
  return {
    commit: (writes) => {
      commit.immediate(writes);
      return Promise.resolve();
    },
    close: () => {
      db.close();
      return Promise.resolve();
    },
  };
}

// One statement per group, so one round trip and one transaction: the events appended from
// arrays, the last row of each saga upserted from arrays.
const GROUP = `
  WITH e AS (
    INSERT INTO events (saga_id, seq, type, at, data)
    SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::text[]))
  INSERT INTO sagas (id, step, status, version, last_command, updated_at, data)
  SELECT * FROM unnest($6::text[], $7::int[], $8::text[], $9::int[], $10::text[], $11::bigint[], $12::text[])
  ON CONFLICT (id) DO UPDATE SET step = excluded.step, status = excluded.status, version = excluded.version,
    last_command = excluded.last_command, updated_at = excluded.updated_at, data = excluded.data`;

/** PostgreSQL over one connection (the server runs synchronous_commit=on, fsync=on): a group is one statement. */
async function openPostgres(url: string): Promise<RefStore> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`
    CREATE TABLE IF NOT EXISTS events (saga_id text NOT NULL, seq int NOT NULL, type text NOT NULL, at bigint NOT NULL, data text NOT NULL, PRIMARY KEY (saga_id, seq));
    CREATE TABLE IF NOT EXISTS sagas (id text PRIMARY KEY, step int NOT NULL, status text NOT NULL, version int NOT NULL,
      last_command text, updated_at bigint NOT NULL, data text NOT NULL);`);
  return {
    async commit(writes) {
      // An upsert may touch a row once per statement: the last write of each saga wins.
      const last = new Map<string, Write>();
      for (const w of writes) last.set(w.row.id, w);
      const rows = [...last.values()];
      await client.query({
        name: 'reference-group', text: GROUP,
        values: [
          writes.map((w) => w.row.id), writes.map((w) => w.row.version), writes.map((w) => w.type), writes.map((w) => w.at), writes.map((w) => w.payload),
          rows.map((w) => w.row.id), rows.map((w) => w.row.step), rows.map((w) => w.row.status), rows.map((w) => w.row.version),
          rows.map((w) => w.row.last_command), rows.map((w) => w.at), rows.map((w) => w.row.data),
        ],
      });
    },
    close: () => client.end(),
  };
}
