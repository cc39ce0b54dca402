import { isPostgresUrl, redact } from './postgres/url.js';
import type { StorePort } from './port.js';
import { openSqlitePort, type SqlitePortOptions } from './sqlite-port.js';

export { isPostgresUrl, redact };

/** Options for either adapter; each takes what applies to it. */
export interface OpenOptions extends SqlitePortOptions {
  /** PostgreSQL connections in the pool. */
  readonly poolSize?: number;
}

/**
 * Opens the store `SAGA_DB` names: a `postgres://` or `postgresql://` URL is the PostgreSQL
 * store several replicas share; anything else is a SQLite file of one process. The PostgreSQL
 * adapter and its driver are loaded only for a URL: a SQLite process does without them (idle
 * sagad: 118-121 MB resident instead of 127-132).
 */
export async function openStorePort(db: string, opts: OpenOptions = {}): Promise<StorePort> {
  if (isPostgresUrl(db)) {
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore(db, { readonly: opts.readonly, snapshotEvery: opts.snapshotEvery, poolSize: opts.poolSize, onCommit: opts.onCommit });
  }
  return openSqlitePort(db, opts);
}
