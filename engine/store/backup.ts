import { randomBytes } from 'node:crypto';
import { closeSync, constants, copyFileSync, existsSync, fsyncSync, linkSync, openSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, StoreErrorCode } from './errors.js';
import { schemaVersion, userVersion } from './migrations.js';

/** What a backup wrote. */
export interface BackupResult {
  readonly file: string;
  readonly bytes: number;
  readonly instances: number;
  readonly ms: number;
  /** The schema version of the copy: the source's, which may be older than this build's. */
  readonly schemaVersion: number;
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
 * compact file. The copy is written beside `target` under a temporary name, synced and
 * checked, and only then linked to `target`, which must not exist: a backup that fails
 * leaves nothing at `target` (an empty or partial file there would restore as an empty
 * store). A database of an older schema is copied as it is (a backup before an upgrade); a
 * newer one, or a file that is not a sagad database, is refused. A restore is a copy of it
 * put where `SAGA_DB` points, sagad stopped.
 */
export function backupSqlite(source: string, target: string): BackupResult {
  const began = Date.now();
  if (!existsSync(source)) throw new StoreError(StoreErrorCode.NotFound, `${source} does not exist; nothing to back up`);
  if (existsSync(target)) throw new Error(`${target} exists already; a backup never overwrites a file`);
  const partial = join(dirname(target), `.${basename(target)}.partial-${randomBytes(4).toString('hex')}`);
  try {
    let version: number;
    const db = new Database(source, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      version = userVersion(db);
      if (version > schemaVersion) {
        throw new StoreError(StoreErrorCode.SchemaVersion, `${source} has schema version ${version}, newer than this build understands (${schemaVersion}); back it up with the sagactl of the sagad that wrote it`);
      }
      if (version < 1) throw new StoreError(StoreErrorCode.SchemaVersion, `${source} is not a sagad database (schema version 0)`);
      db.prepare('VACUUM INTO ?').run(partial);
    } finally {
      db.close();
    }
    fsyncPath(partial);
    const copy = new Database(partial, { readonly: true, fileMustExist: true });
    let instances: number;
    try {
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the copy fails SQLite's quick_check: ${String(check)}`);
      instances = copy.prepare<[], { n: number }>('SELECT count(*) AS n FROM instances').get()?.n ?? 0;
    } finally {
      copy.close();
    }
    // A link, not a rename: it fails rather than replace a file created at `target` meanwhile.
    // Where the file system has no hard links (vfat, exFAT, some network and FUSE mounts), an
    // exclusive copy does the same, synced in turn.
    try {
      linkSync(partial, target);
    } catch (err) {
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(String((err as { code?: unknown }).code))) throw err;
      copyFileSync(partial, target, constants.COPYFILE_EXCL);
      fsyncPath(target);
    }
    fsyncPath(dirname(target));
    return { file: target, bytes: statSync(target).size, instances, ms: Date.now() - began, schemaVersion: version };
  } finally {
    rmSync(partial, { force: true });
  }
}
