import type pg from 'pg';
import { StoreError, StoreErrorCode } from '../errors.js';
import { classify } from './connect.js';

/** The pool and a query that names its failures in the `SAGA_ERR_*` family. */
export interface Db {
  readonly pool: pg.Pool;
  /** Where the data lives, without the password. */
  readonly where: string;
  /**
   * Runs one statement (as a named prepared statement when `name` is given, parsed once per
   * connection); a lost or refused connection rejects with `SAGA_ERR_STORE_UNAVAILABLE`.
   */
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[], name?: string): Promise<R[]>;
  /** Like `query`, and also returns how many rows the statement changed. */
  run(text: string, values?: unknown[]): Promise<number>;
  /** {@link withClient} on this pool. */
  withClient<T>(use: (c: pg.PoolClient) => Promise<T>): Promise<T>;
}

/** A {@link Db} over `pool`. */
export function db(pool: pg.Pool, where: string): Db {
  return {
    pool,
    where,
    async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = [], name?: string) {
      try {
        const r = await pool.query<R>(name === undefined ? { text, values } : { name, text, values });
        return r.rows;
      } catch (err) {
        throw classify(err, where);
      }
    },
    async run(text, values = []) {
      try {
        return (await pool.query(text, values)).rowCount ?? 0;
      } catch (err) {
        throw classify(err, where);
      }
    },
    withClient: (use) => withClient(pool, where, use),
  };
}

/**
 * Runs `use` on a connection of its own from the pool (several statements, a transaction),
 * and survives the server ending that connection meanwhile. pg-pool takes its error listener
 * off a client it hands out, so a backend ended while the client is held (a restart,
 * `pg_terminate_backend`, `idle_in_transaction_session_timeout`) would emit an 'error' that
 * nothing handles, and the process would exit. Here a listener keeps that error; on any
 * failure an open transaction is rolled back; the client goes back to the pool with the error
 * (or a failed rollback), so the pool discards it instead of handing out a dead connection;
 * and the call rejects with `SAGA_ERR_STORE_UNAVAILABLE` naming `where` when the connection
 * was lost, else with the failure classified as `Db.query` does.
 */
export async function withClient<T>(pool: pg.Pool, where: string, use: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect().catch((err: unknown) => {
    throw classify(err, where);
  });
  let lost: Error | undefined;
  const onError = (err: Error): void => {
    lost ??= err;
  };
  c.on('error', onError);
  let broken = false;
  try {
    return await use(c);
  } catch (err) {
    // Outside a transaction (`use` ended its own, or never began one) this is only a warning.
    if (lost === undefined) {
      await c.query('ROLLBACK').catch(() => {
        broken = true;
      });
    }
    throw lost === undefined ? classify(err, where) : connectionLost(lost, where);
  } finally {
    c.off('error', onError);
    c.release(lost ?? broken);
  }
}

/** The error of a call whose connection the server ended or the network dropped: worth retrying. */
function connectionLost(err: Error, where: string): unknown {
  const e = classify(err, where);
  if (e instanceof StoreError) return e;
  return new StoreError(StoreErrorCode.StoreUnavailable, `PostgreSQL at ${where}: the connection was lost (${err.message}); retrying later may succeed`, { cause: err });
}
