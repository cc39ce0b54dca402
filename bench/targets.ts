import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, type NatsServer } from '../test/helpers/nats-server.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { freePort, pidWith, root, spawnNode, waitFor200, type Child } from './proc.js';

/** The store a bench run puts sagad and the reference loop on. */
export type StoreKind = 'sqlite' | 'postgres';

/** Where each target run gets a fresh, empty database. */
export interface Db {
  readonly kind: StoreKind;
  /** A new database for one run: a file in `dir` (SQLite) or a new database on the bench's PostgreSQL; its path or URL. */
  fresh(dir: string, name: string): Promise<string>;
  /** The PostgreSQL postmaster's pid, to count the server's CPU; undefined with SQLite. */
  serverPid(): number | undefined;
  close(): Promise<void>;
}

/** SQLite files, one per run, in the run's temporary directory. */
export const sqliteDb: Db = {
  kind: 'sqlite',
  fresh: (dir, name) => Promise.resolve(join(dir, `${name}.db`)),
  serverPid: () => undefined,
  close: () => Promise.resolve(),
};

/**
 * A PostgreSQL 15 of the bench's own (test/helpers/postgres.ts: initdb in a temporary
 * directory, run as the postgres user, free port, fsync=on, synchronous_commit=on) with a new
 * database per run.
 */
export async function postgresDb(): Promise<Db> {
  const server = await startPostgres();
  let n = 0;
  const pid = pidWith(`\0-p\0${server.port}\0`);
  return {
    kind: 'postgres',
    fresh: (_dir, name) => server.createDatabase(`bench_${name.replace(/\W/g, '_')}_${++n}`),
    serverPid: () => pid,
    close: () => server.stop(),
  };
}

/** A running nats-server plus a temporary directory for databases, removed together. */
export interface Sandbox {
  readonly nats: NatsServer;
  readonly dir: string;
  close(): Promise<void>;
}

/** Starts a fresh `nats-server -js` on a free port with a temporary store, and a temporary directory. */
export async function sandbox(): Promise<Sandbox> {
  const nats = await startNatsServer();
  const dir = await mkdtemp(join(tmpdir(), 'sagad-bench-'));
  return {
    nats, dir,
    async close() {
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** sagad as its own process, with the HTTP API on `url`. */
export interface Sagad extends Child {
  readonly url: string;
  /** Milliseconds from spawn until /readyz answered 200. */
  readonly readyMs: number;
}

export interface SagadOptions {
  readonly natsUrl: string;
  readonly db: string;
  readonly definitions?: string;
  /** Extra `node` flags, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  readonly readyTimeoutMs?: number;
  /** Extra environment, e.g. SAGA_SYNCHRONOUS=NORMAL for an experiment (the bench itself always runs the default, FULL). */
  readonly env?: Record<string, string>;
}

/** Spawns `node dist/engine/main.js` (default durability: WAL, synchronous=FULL) and waits for /readyz. */
export async function startSagad(o: SagadOptions): Promise<Sagad> {
  const port = await freePort();
  const child = spawnNode([...(o.nodeArgs ?? []), join(root, 'dist', 'engine', 'main.js')], {
    SAGA_DB: o.db, SAGA_HTTP_PORT: String(port), NATS_URL: o.natsUrl, SAGA_LOG_LEVEL: 'warn',
    SAGA_DEFINITIONS: o.definitions ?? join(root, 'saga-definitions.yaml'), ...o.env,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor200(`${url}/readyz`, child, o.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await child.stop(2_000);
    throw err;
  }
  return { ...child, url, readyMs: performance.now() - child.spawnedAt };
}

/** Spawns the reference loop (bench/reference.ts) on `db` (file or postgres:// URL) and waits for its `ready` line; its start API is on `url`. */
export async function startReference(natsUrl: string, db: string, mode: 'grouped' | 'per-commit'): Promise<Child & { url: string }> {
  let ready: () => void = () => undefined;
  const isReady = new Promise<void>((resolve) => { ready = resolve; });
  const port = await freePort();
  const child = spawnNode([join(root, 'dist', 'bench', 'reference.js')], { NATS_URL: natsUrl, REF_DB: db, REF_MODE: mode, REF_HTTP_PORT: String(port) },
    (line) => { if (line === 'ready') ready(); });
  const outcome = await Promise.race([isReady.then(() => 'ready' as const), child.exited]);
  if (outcome !== 'ready') throw new Error(`reference loop exited (${outcome}):\n${child.tail.join('\n')}`);
  return { ...child, url: `http://127.0.0.1:${port}` };
}
