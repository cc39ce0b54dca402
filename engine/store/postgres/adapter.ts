import pg from 'pg';
import { StoreError, StoreErrorCode } from '../errors.js';
import type { PortOptions, StorePort } from '../port.js';
import { journalUpcasters, type Upcasters } from '../upcast.js';
import { claims } from './claims.js';
import { GroupWriter } from './commit.js';
import { classify, describe, poolConfig, redact } from './connect.js';
import { db } from './db.js';
import { earlyEventOps } from './early-events.js';
import { rebuildOps } from './rebuild.js';
import { insights } from './insights.js';
import { operators } from './operators.js';
import { reads } from './reads.js';
import { retentionOf } from './retention.js';
import { checkPgSchema, migratePg } from './schema.js';

/** Options of the PostgreSQL store beyond those every adapter takes. */
export interface PostgresOptions extends PortOptions {
  /** Connections in the pool; default 10. */
  readonly poolSize?: number;
  /** Readers of old journal event versions, used by `rebuild`. */
  readonly upcasters?: Upcasters;
  /**
   * Commit batches in flight at once; default 1: at concurrency 100 one batch of ~44 inputs
   * cost PostgreSQL 20% less CPU per saga than two of ~22 (each batch has a fixed cost of
   * statements, plans and a WAL flush), for as many steps per second. Replicas still commit in parallel.
   */
  readonly commitsInFlight?: number;
  /** How long to wait for a connection, ms; default 10000. */
  readonly connectTimeoutMs?: number;
}

// bigint (int8) columns hold epoch ms and sequence numbers, all below 2^53: read them as numbers.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * The database as it names itself: its name and the time (in microseconds) of the transaction
 * that created sagad's schema in it, the same whatever host name or port reached it.
 */
async function databaseIdentity(c: pg.ClientBase): Promise<string> {
  const r = await c.query<{ db: string; at: string }>(
    'SELECT current_database() AS db, (extract(epoch FROM applied_at) * 1000000)::bigint::text AS at FROM sagad_schema ORDER BY version LIMIT 1');
  const row = r.rows[0];
  if (row === undefined) throw new StoreError(StoreErrorCode.SchemaVersion, 'the sagad_schema table is empty: not a sagad database');
  return `${row.db}/${row.at}`;
}

function refuse(): never {
  throw new StoreError(StoreErrorCode.ReadOnly, 'this store was opened read-only; it writes nothing');
}

/**
 * Opens the PostgreSQL store at `url` (`postgres://` or `postgresql://`, `sslmode` and `PG*`
 * variables honoured), migrating the schema safely beside other replicas starting at once.
 * A read-only open migrates nothing, checks the schema version and rejects every write with
 * `SAGA_ERR_READ_ONLY` (its sessions are read-only on the server too). Fails with
 * `SAGA_ERR_STORE_CONFIG` (fatal: wrong URL, password, database) or
 * `SAGA_ERR_STORE_UNAVAILABLE` (retry later: server down, starting, full).
 */
export async function openPostgresStore(url: string, opts: PostgresOptions = {}): Promise<StorePort> {
  const readonly = opts.readonly === true;
  const snapshotEvery = opts.snapshotEvery ?? 100;
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 1) throw new RangeError(`snapshotEvery must be a positive integer, not ${snapshotEvery}`);
  const cfg = poolConfig(url);
  const where = describe(cfg);
  const pool = new pg.Pool({
    ...cfg,
    types,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: cfg.connectionTimeoutMillis ?? opts.connectTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    // A server that vanished without closing the socket (a partition, a failed-over host) is
    // noticed by TCP keepalive rather than by a query hanging on it: probes after 10 s of
    // silence, not the OS default of 2 hours (node-pg passes 0, which keeps that default).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: cfg.application_name ?? (readonly ? 'sagactl' : 'sagad'),
    ...(readonly ? { options: `${cfg.options ?? ''} -c default_transaction_read_only=on`.trim() } : {}),
  });
  // An idle connection that the server drops (restart, failover) is an error on the pool,
  // not a crash: the pool discards it and the next query connects again.
  pool.on('error', () => {});
  const d = db(pool, where);
  let identity: string;
  try {
    // A connection of its own (withClient): the server ending it during the migration (a
    // restart, an operator terminating a long index build) fails the open, not the process.
    identity = await d.withClient(async (c) => {
      await (readonly ? checkPgSchema(c, where) : migratePg(c, where));
      return databaseIdentity(c);
    });
  } catch (err) {
    await pool.end().catch(() => {});
    throw classify(err, where);
  }

  const writer = new GroupWriter(pool, where, { snapshotEvery, inFlight: opts.commitsInFlight ?? 1, onCommit: opts.onCommit });
  const claimed = claims(d);
  const ops = operators(d);
  let closed: Promise<void> | null = null;

  const port: StorePort = {
    kind: 'postgres',
    where: redact(url),
    identity,
    readonly,
    ...reads(d, opts.upcasters ?? journalUpcasters),
    ...claimed,
    ...ops,
    ...earlyEventOps(d),
    ...rebuildOps(d, opts.upcasters ?? journalUpcasters),
    ...insights(d),
    ...retentionOf(d),
    commit: (w) => (readonly ? Promise.reject(new StoreError(StoreErrorCode.ReadOnly, 'this store was opened read-only; it writes nothing')) : writer.commit(w)),
    settled: () => writer.settled(),
    close: () => (closed ??= (async () => {
      await writer.settled();
      await pool.end();
    })()),
  };
  if (!readonly) return port;
  const reject = async (): Promise<never> => refuse();
  return {
    ...port,
    claimDueTimers: reject, claimUnsent: reject, markSent: reject, parkOutboxRow: reject, park: reject, markRedriven: reject, deleteDead: reject,
    rememberDefinition: reject, pruneInbox: reject, pruneSent: reject, keepEarlyEvent: reject, dropEarlyEvent: reject, rebuildInstance: reject, retire: reject, pruneDeadLetters: reject,
  };
}
