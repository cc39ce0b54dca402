import type pg from 'pg';
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
  };
}
