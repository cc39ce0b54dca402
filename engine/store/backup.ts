import { existsSync, openSync, fsyncSync, closeSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, StoreErrorCode } from './errors.js';
import { checkSchema } from './migrations.js';

/** What a backup wrote. */
export interface BackupResult {
  readonly file: string;
  readonly bytes: number;
  readonly instances: number;
  readonly ms: number;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A consistent copy of the SQLite store `source` into the new file `target`, safe while sagad
 * runs: `VACUUM INTO` on a read-only connection reads one snapshot (one read transaction, so
 * the copy is the database as of one commit) without blocking sagad's writes, and writes a
 * compact file. The copy is synced (file and directory) and checked before this returns;
 * `target` must not exist. A restore is a copy of it put where `SAGA_DB` points, sagad stopped.
 */
export function backupSqlite(source: string, target: string): BackupResult {
  const began = Date.now();
  if (!existsSync(source)) throw new StoreError(StoreErrorCode.NotFound, `${source} does not exist; nothing to back up`);
  if (existsSync(target)) throw new Error(`${target} exists already; a backup never overwrites a file`);
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    checkSchema(db);
    db.prepare('VACUUM INTO ?').run(target);
  } finally {
    db.close();
  }
  fsyncPath(target);
  fsyncPath(dirname(target));
  const copy = new Database(target, { readonly: true, fileMustExist: true });
  try {
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`the copy ${target} fails SQLite's quick_check: ${String(check)}`);
    const instances = copy.prepare<[], { n: number }>('SELECT count(*) AS n FROM instances').get()?.n ?? 0;
    return { file: target, bytes: statSync(target).size, instances, ms: Date.now() - began };
  } finally {
    copy.close();
  }
}
