import { parse } from 'pg-connection-string';
import type pg from 'pg';
import { StoreError, StoreErrorCode } from '../errors.js';
import { isPostgresUrl, redact } from './url.js';

export { isPostgresUrl, redact };

/** Where the settings point, as one sentence names it: `user@host:port/db`, with `PG*` defaults filled in. */
export function describe(cfg: pg.PoolConfig): string {
  const env = process.env;
  const host = cfg.host ?? env.PGHOST ?? 'localhost';
  const port = cfg.port ?? (env.PGPORT === undefined ? 5432 : Number(env.PGPORT));
  const user = cfg.user ?? env.PGUSER ?? env.USER ?? '?';
  const db = cfg.database ?? env.PGDATABASE ?? user;
  return `${user}@${host}:${port}/${db}`;
}

/**
 * The pool settings of a `postgres://` / `postgresql://` URL, with libpq's meaning of
 * `sslmode` (`require`: encrypted, not verified; `verify-ca`: chain only; `verify-full`: chain
 * and host name; `sslrootcert`, `sslcert`, `sslkey` read from files), `PGSSLMODE` when the URL
 * has none, and the other `PG*` variables filling what the URL leaves out. `prefer` and `allow`
 * connect without TLS: the driver cannot fall back as libpq does. Throws `SAGA_ERR_STORE_CONFIG`
 * for a URL it cannot read.
 */
export function poolConfig(url: string): pg.PoolConfig {
  if (!isPostgresUrl(url)) throw new StoreError(StoreErrorCode.StoreConfig, `${redact(url)} is not a postgres:// or postgresql:// URL`);
  try {
    const u = new URL(url);
    const envMode = process.env.PGSSLMODE;
    if (!u.searchParams.has('sslmode') && envMode !== undefined && envMode !== '') u.searchParams.set('sslmode', envMode);
    const mode = u.searchParams.get('sslmode');
    if (mode === 'prefer' || mode === 'allow') u.searchParams.set('sslmode', 'disable');
    if (mode !== null && !['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(mode)) {
      throw new Error(`sslmode=${mode} is not one of disable, allow, prefer, require, verify-ca, verify-full`);
    }
    const opts = parse(u.toString(), { useLibpqCompat: true });
    const cfg: pg.PoolConfig = {};
    if (opts.host !== null && opts.host !== undefined && opts.host !== '') cfg.host = opts.host;
    if (opts.port !== null && opts.port !== undefined && opts.port !== '') cfg.port = Number(opts.port);
    if (opts.user !== undefined && opts.user !== '') cfg.user = opts.user;
    if (opts.password !== undefined && opts.password !== '') cfg.password = opts.password;
    if (opts.database !== null && opts.database !== undefined && opts.database !== '') cfg.database = opts.database;
    if (opts.ssl !== undefined) cfg.ssl = opts.ssl as pg.PoolConfig['ssl'];
    if (opts.application_name !== undefined) cfg.application_name = opts.application_name;
    // e.g. `?options=-c%20search_path%3Dsagad` to keep sagad's tables in a schema of their own.
    if (opts.options !== undefined && opts.options !== '') cfg.options = opts.options;
    const timeout = u.searchParams.get('connect_timeout');
    if (timeout !== null && Number(timeout) > 0) cfg.connectionTimeoutMillis = Number(timeout) * 1000;
    return cfg;
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(StoreErrorCode.StoreConfig, `cannot read the database URL ${redact(url)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * SQLSTATEs that pass when the server is back or has room again: a lost or refused
 * connection (08, 57P01-57P03, 57P05), a server short of resources (class 53: disk full, too
 * many connections) or failing underneath (class 58: I/O error), a database that is
 * read-only for now (25006: a failover pointing at a standby, an operator guarding a nearly
 * full disk), a lock that timed out (55P03). Held and retried as the store being unavailable,
 * not counted against a message's deliveries: one of these on every delivery would otherwise
 * dead-letter, or lose, every message meanwhile. Not a statement timeout (57014) nor out of
 * memory (53200): one oversized input can cause those, and held it would be retried for ever
 * (and fail its batch every time) instead of being dead-lettered.
 */
const transientStates = new Set(['57P01', '57P02', '57P03', '57P05', '25006', '55P03']);
const transientClasses = ['08', '53', '58'];
const inputStates = new Set(['53200', '57014']);
const transientSocket = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'EPIPE']);
/** Settings errors: wrong password or user, unknown database, no permission to connect. */
const configStates: Record<string, string> = {
  '28P01': 'the password was refused',
  '28000': 'the user may not connect (pg_hba.conf or role)',
  '3D000': 'the database does not exist',
  '42501': 'the user lacks a permission sagad needs',
};

/** The error's SQLSTATE or socket code, if it has one. */
export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when a retry may succeed: the connection or the server went away, or is full. */
export function isTransient(err: unknown): boolean {
  const code = codeOf(err);
  if (code !== undefined && (transientStates.has(code) || transientSocket.has(code))) return true;
  if (code?.length === 5 && transientClasses.includes(code.slice(0, 2)) && !inputStates.has(code)) return true;
  const msg = err instanceof Error ? err.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection timeout/i.test(msg);
}

/**
 * Turns a driver error into a `StoreError`: `SAGA_ERR_STORE_UNAVAILABLE` (retry later) for an
 * unreachable, restarting or full server; `SAGA_ERR_STORE_CONFIG` (fatal) for a wrong
 * password, user or database, in one sentence naming `where` without the password. Other
 * errors (and StoreErrors) come back as they are.
 */
export function classify(err: unknown, where: string): unknown {
  if (err instanceof StoreError) return err;
  const code = codeOf(err);
  const detail = err instanceof Error ? err.message : String(err);
  const config = code === undefined ? undefined : configStates[code];
  if (config !== undefined) {
    return new StoreError(StoreErrorCode.StoreConfig, `PostgreSQL at ${where}: ${config} (${detail})`, { cause: err });
  }
  // The driver's own error, without a SQLSTATE, when the server asks for a password the settings lack.
  if (/client password must be a string/.test(detail)) {
    return new StoreError(StoreErrorCode.StoreConfig,
      `PostgreSQL at ${where}: the server asks for a password and none was given; put it in the URL (postgres://USER:PASSWORD@HOST/DB) or in PGPASSWORD (${detail})`, { cause: err });
  }
  if (/SSL|certificate|self[- ]signed/i.test(detail) && !isTransient(err)) {
    return new StoreError(StoreErrorCode.StoreConfig, `PostgreSQL at ${where}: TLS failed, check sslmode and certificates (${detail})`, { cause: err });
  }
  if (isTransient(err)) {
    return new StoreError(StoreErrorCode.StoreUnavailable, `PostgreSQL at ${where} is unavailable (${code ?? detail}); retrying later may succeed`, { cause: err });
  }
  return err;
}
