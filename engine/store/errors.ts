import { SagaError } from '../errors.js';

/** Stable codes of store failures, in the `SAGA_ERR_*` family. */
export const StoreErrorCode = {
  /** The file's schema version is not the one this build understands (or it is not a sagad database). */
  SchemaVersion: 'SAGA_ERR_SCHEMA_VERSION',
  /** An append did not start at the journal's head: another writer got there first. */
  VersionConflict: 'SAGA_ERR_VERSION_CONFLICT',
  /** An instance with this saga and key already exists. */
  DuplicateKey: 'SAGA_ERR_DUPLICATE_KEY',
  /** The instance (or dead letter) does not exist. */
  NotFound: 'SAGA_ERR_NOT_FOUND',
  /** A list cursor that this store did not hand out. */
  BadCursor: 'SAGA_ERR_BAD_CURSOR',
  /** A journal event this build cannot read: unknown type, newer version, or no upcaster. */
  UnreadableEvent: 'SAGA_ERR_UNREADABLE_EVENT',
  /** The database cannot be reached now (refused, timed out, restarting, too many connections): retry later. */
  StoreUnavailable: 'SAGA_ERR_STORE_UNAVAILABLE',
  /** The database settings are wrong (bad URL, password, user or database name): retrying will not help. */
  StoreConfig: 'SAGA_ERR_STORE_CONFIG',
  /** A write through a store opened read-only. */
  StoreReadonly: 'SAGA_ERR_STORE_READONLY',
} as const;
/** One of {@link StoreErrorCode}'s values. */
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

/** A store failure with one of {@link StoreErrorCode}'s codes. */
export class StoreError extends SagaError<StoreErrorCode> {}

/** True for a better-sqlite3 error with that SQLite extended code (e.g. `SQLITE_CONSTRAINT_UNIQUE`). */
export function isSqliteError(err: unknown, code: string): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === code;
}
