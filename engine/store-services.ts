/**
 * The store side of sagad's process, as the composition root (main.ts) uses it: opening the
 * store (an unreachable PostgreSQL retried), the health check behind /readyz, and the retention
 * pass with its archive.
 */
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ArchiveWriter } from './archive/writer.js';
import type { Config } from './config.js';
import { SagaError } from './errors.js';
import { uuidv7 } from './ids.js';
import type { LogFn } from './log.js';
import type { Metrics } from './metrics/registry.js';
import { RetentionService } from './runtime/retention.js';
import { isStoreUnavailable, StoreErrorCode } from './store/errors.js';
import { isPostgresUrl, openStorePort, redact } from './store/open.js';
import type { StorePort } from './store/port.js';

/**
 * Opens the store; an unreachable PostgreSQL is retried with backoff until it answers (or
 * `signal` aborts), and `waiting` is told why at each retry.
 */
export async function openStore(config: Config, log: LogFn, signal: AbortSignal | undefined, metrics: Metrics, waiting?: (why: string) => void): Promise<StorePort> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openStorePort(config.dbPath, {
        synchronous: config.synchronous, snapshotEvery: config.snapshotEvery, background: true, onCommit: (n, s) => metrics.commit(n, s),
        onBackgroundError: (message) => log('error', 'store background thread: work failed', { error: message }),
      });
    } catch (err) {
      if (!(err instanceof SagaError && err.code === StoreErrorCode.StoreUnavailable)) throw err;
      const wait = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
      log('warn', `the store is unavailable; not ready, retrying in ${Math.round(wait / 100) / 10} s`, { db: redact(config.dbPath), attempt, error: err.message });
      waiting?.(`${err.message} (attempt ${attempt}, next in ${Math.round(wait / 100) / 10} s)`);
      await sleep(wait, undefined, { signal });
    }
  }
}

/** The archive directory: `SAGA_ARCHIVE_DIR`, else `archive/` beside the SQLite file, else ./data/archive. */
export function archiveDirOf(config: Pick<Config, 'archiveDir' | 'dbPath'>): string {
  if (config.archiveDir !== undefined) return config.archiveDir;
  return isPostgresUrl(config.dbPath) ? join('data', 'archive') : join(dirname(config.dbPath), 'archive');
}

/** Starts the retention pass (engine/runtime/retention.ts); it does nothing unless a retention is set. */
export function startRetention(config: Config, store: StorePort, log: LogFn): RetentionService {
  const archive = new ArchiveWriter({
    dir: archiveDirOf(config), rotateMs: config.archiveRotateMs,
    definition: async (hash) => {
      const source = await store.getDefinitionSource(hash);
      const name = source === undefined ? undefined : (await store.listDefinitions()).find((d) => d.hash === hash)?.name;
      return source === undefined || name === undefined ? undefined : { name, source };
    },
  });
  const service = new RetentionService(store, {
    retentionMs: config.retentionMs ?? null, lateSuccessWindowMs: config.lateSuccessWindowMs, dlqRetentionMs: config.dlqRetentionMs ?? null,
    intervalMs: config.retentionIntervalMs, batch: config.retentionBatch, archive, log,
  });
  service.start();
  if (config.retentionMs !== undefined) {
    log('info', 'retention on: finished instances are archived, then deleted', { retentionMs: config.retentionMs, archiveDir: archiveDirOf(config) });
    if (config.retentionMs < config.lateSuccessWindowMs) {
      log('info', 'compensated instances are kept for SAGA_LATE_SUCCESS_WINDOW, longer than SAGA_RETENTION, so that a late success can still reopen them',
        { retentionMs: config.retentionMs, lateSuccessWindowMs: config.lateSuccessWindowMs });
    }
  }
  return service;
}

/** The store as sagad runs it, and whether it reads and writes well enough for sagad to be ready. */
export interface StoreHealth {
  /** The store whose commits are watched (see {@link storeHealth}). */
  readonly store: StorePort;
  ok(): boolean;
  /** Why it is not ok: the last failed read, else the last failed commit. */
  detail(): string;
  stop(): void;
}

/**
 * Whether the store answers and takes writes, for /readyz. Reads may succeed while every commit
 * fails (a full disk), so a commit that fails because the store is unavailable makes sagad not
 * ready too, until a write succeeds. Every `intervalMs` a read is tried, and while commits fail
 * a write as well: an idle sagad, or one that Kubernetes stopped sending starts to because it
 * was not ready, is ready again once the store recovers, without waiting for an input.
 */
export function storeHealth(opened: StorePort, log: LogFn, intervalMs = 2_000): StoreHealth {
  let readFailure: string | null = null;
  let writeFailure: string | null = null;
  const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
  const store: StorePort = {
    ...opened,
    commit: (w) => opened.commit(w).then((r) => {
      writeFailure = null;
      return r;
    }, (err: unknown) => {
      if (isStoreUnavailable(err)) writeFailure = message(err);
      throw err;
    }),
  };
  // The write tried: an input that only records a message id of its own in the inbox, durable as
  // any commit (an empty transaction writes nothing, and succeeds on a full disk). One such row
  // is left per recovery, pruned with the inbox after a week; nothing else reads it.
  let probing = false;
  const probe = () => {
    probing = true;
    opened.commit({ messageId: `sagad-write-check/${uuidv7()}`, firedTimer: null, changes: [] }).then(() => {
      if (writeFailure !== null) log('info', 'the store takes writes again', { db: opened.where });
      writeFailure = null;
    }, (err: unknown) => {
      if (isStoreUnavailable(err) && writeFailure !== null) writeFailure = message(err);
    }).finally(() => { probing = false; });
  };
  const check = () => {
    opened.nextDueAt().then(() => {
      if (readFailure !== null) log('info', 'the store answers again', { db: opened.where });
      readFailure = null;
    }, (err: unknown) => {
      const why = message(err);
      if (readFailure === null) log('error', 'the store does not answer; not ready until it does', { db: opened.where, error: why });
      readFailure = why;
    });
    if (writeFailure !== null && !probing) probe();
  };
  const timer = setInterval(check, intervalMs);
  timer.unref();
  return {
    store,
    ok: () => readFailure === null && writeFailure === null,
    detail: () => (readFailure !== null ? `the store does not answer: ${readFailure}` : `the store fails commits: ${writeFailure ?? ''}`),
    stop: () => clearInterval(timer),
  };
}
