import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** A query for the thread: SQL without parameters, or SQL and its parameters (numbers and strings). */
export type BackgroundQuery = string | { readonly sql: string; readonly params: readonly (number | string)[] };

/** The store's background thread, from the store's side. */
export interface Background {
  /** Runs read-only queries (SQL, or SQL with its parameters) on the thread's own connection; resolves with each one's rows. */
  read<K extends string>(queries: Readonly<Record<K, BackgroundQuery>>): Promise<Record<K, unknown[]>>;
  /** Stops the thread and closes its connection; returns once it has (or after 5 s). */
  stop(): void;
}

// CommonJS run by the worker thread, with a connection of its own to the database file:
// a PASSIVE checkpoint (which never waits for, nor blocks, the writer) every `intervalMs`,
// and the read-only queries it is sent.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const closed = new Int32Array(workerData.closed);
const text = (err) => String((err && err.message) || err);
let db = null;
let timer = null;
const statements = new Map();
try {
  const Database = require(workerData.module);
  db = new Database(workerData.file);
  db.pragma('synchronous = ' + workerData.synchronous);
  // SQLite's own default page cache (2 MB) rather than better-sqlite3's 16 MB: this
  // connection's scans read each page once per scrape, and a full cache of theirs was 16 MB
  // of resident memory for nothing (100,000 pending timers: peak RSS 176 to 192 MB at the
  // first /metrics).
  db.pragma('cache_size = ' + workerData.cacheKib * -1);
  // A failing checkpoint (a full disk) fails every 100 ms: reported once, until one succeeds.
  let failing = null;
  timer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
      failing = null;
    } catch (err) {
      if (failing !== text(err)) parentPort.postMessage({ error: 'checkpoint failed (the committing connection checkpoints past 40 MB of WAL meanwhile): ' + text(err) });
      failing = text(err);
    }
  }, workerData.intervalMs);
} catch (err) {
  parentPort.postMessage({ error: text(err) });
}
parentPort.on('message', (m) => {
  if (m.stop) {
    if (timer !== null) clearInterval(timer);
    if (db !== null) db.close();
    db = null;
    Atomics.store(closed, 0, 1);
    Atomics.notify(closed, 0);
    parentPort.close();
    return;
  }
  try {
    if (db === null) throw new Error('the background connection is not open');
    const results = {};
    // One read transaction: every query sees the same committed state.
    db.transaction(() => {
      for (const [name, q] of Object.entries(m.queries)) {
        const sql = typeof q === 'string' ? q : q.sql;
        let s = statements.get(sql);
        if (s === undefined) statements.set(sql, (s = db.prepare(sql)));
        results[name] = typeof q === 'string' ? s.all() : s.all(...q.params);
      }
    }).deferred();
    parentPort.postMessage({ id: m.id, results });
  } catch (err) {
    parentPort.postMessage({ id: m.id, failed: text(err) });
  }
});
`;

/** The background connection's page cache, in KiB (SQLite's default; better-sqlite3 sets 16,000). */
export const BACKGROUND_CACHE_KIB = 2000;

/**
 * A worker thread beside the connection that commits, for the work that must not stall it:
 * - WAL checkpoints. SQLite's automatic checkpoint runs in the commit that crosses its
 *   threshold, copying the WAL's pages into the database file and fsyncing it; in a large
 *   database those are scattered writes that held up every input behind them. The thread runs
 *   a PASSIVE checkpoint every `intervalMs`; the committing connection keeps a threshold only
 *   as a fallback, and then finds most pages already copied. Durability is unchanged: a
 *   commit is durable once its WAL frames are synced, before any checkpoint.
 * - Counting queries for /metrics and /v1/stats, which scan whole tables: 100 ms with 100,000
 *   instances, and growing with the database. In WAL mode the thread reads committed data
 *   without blocking the writer.
 */
export function startBackground(file: string, synchronous: 'FULL' | 'NORMAL', onError: (message: string) => void, intervalMs = 100): Background {
  const closed = new SharedArrayBuffer(4);
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { file, synchronous, intervalMs, module, closed, cacheKib: BACKGROUND_CACHE_KIB } });
  const waiting = new Map<number, { resolve: (r: Record<string, unknown[]>) => void; reject: (e: Error) => void }>();
  let next = 0;
  let exited = false;
  const failAll = (why: string) => {
    for (const w of waiting.values()) w.reject(new Error(why));
    waiting.clear();
    worker.unref();
  };
  worker.on('message', (m: { id?: number; results?: Record<string, unknown[]>; failed?: string; error?: string }) => {
    if (m.id === undefined) {
      if (m.error !== undefined) onError(m.error);
      return;
    }
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (waiting.size === 0) worker.unref();
    if (m.failed !== undefined) w?.reject(new Error(m.failed));
    else w?.resolve(m.results ?? {});
  });
  worker.on('error', (err) => onError(`background thread failed: ${err.message}`));
  worker.on('exit', () => {
    exited = true;
    failAll('the background thread has stopped');
  });
  worker.unref();
  let stopped = false;
  return {
    read<K extends string>(queries: Readonly<Record<K, BackgroundQuery>>): Promise<Record<K, unknown[]>> {
      if (stopped || exited) return Promise.reject(new Error('the background thread has stopped'));
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (r: Record<string, unknown[]>) => void, reject });
        // An answer is awaited: the thread keeps the process alive until it comes.
        worker.ref();
        worker.postMessage({ id, queries });
      });
    },
    stop() {
      if (stopped || exited) return;
      stopped = true;
      worker.postMessage({ stop: true });
      // Synchronous on purpose: the store's close() is, and the last connection to close is
      // the one that checkpoints the whole WAL and removes it.
      Atomics.wait(new Int32Array(closed), 0, 0, 5000);
      failAll('the store was closed');
    },
  };
}
