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
import type { LogFn } from './log.js';
import type { Metrics } from './metrics/registry.js';
import { RetentionService } from './runtime/retention.js';
import { StoreErrorCode } from './store/errors.js';
import { isPostgresUrl, openStorePort, redact } from './store/open.js';
import type { StorePort } from './store/port.js';

/** Opens the store; an unreachable PostgreSQL is retried with backoff until it answers (or `signal` aborts). */
export async function openStore(config: Config, log: LogFn, signal: AbortSignal | undefined, metrics: Metrics): Promise<StorePort> {
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

/** Whether the store answers: asked every 2 s; /readyz reports the last failure until it answers again. */
export function storeHealth(store: StorePort, log: LogFn): { ok(): boolean; detail(): string; stop(): void } {
  let failure: string | null = null;
  const check = () => {
    store.nextDueAt().then(() => {
      if (failure !== null) log('info', 'the store answers again', { db: store.where });
      failure = null;
    }, (err: unknown) => {
      const why = err instanceof Error ? err.message : String(err);
      if (failure === null) log('error', 'the store does not answer; not ready until it does', { db: store.where, error: why });
      failure = why;
    });
  };
  const timer = setInterval(check, 2_000);
  timer.unref();
  return { ok: () => failure === null, detail: () => `the store does not answer: ${failure ?? ''}`, stop: () => clearInterval(timer) };
}
