import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';

/** A running PostgreSQL started by {@link startPostgres}. */
export interface PostgresServer {
  /** URL of the `postgres` database as the test superuser (with its password). */
  readonly url: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Creates a fresh database and returns its URL: one per test keeps tests independent. */
  createDatabase(name?: string): Promise<string>;
  /** URL of database `db` on this server, with other credentials when given. */
  urlOf(db: string, auth?: { user: string; password: string }): string;
  /** Stops the server (fast shutdown, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
  /** Kills the postmaster and its backends with SIGKILL, as a crash would, without waiting. */
  kill9(): void;
  /** Stops the server (or waits out a killed one) and starts it again on the same port and data. */
  restart(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;
const PASSWORD = 'sagad-test-secret';
const run = promisify(execFile);

/** The directory of PostgreSQL's server binaries: PATH first, then Debian's place for version 15. */
export function postgresBinDir(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/lib/postgresql/15/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, 'initdb'), constants.X_OK);
      accessSync(join(dir, 'postgres'), constants.X_OK);
      return dir;
    } catch {
      // not in this directory
    }
  }
  throw new Error('PostgreSQL server binaries (initdb, postgres) not found; install them with `apt-get install -y postgresql`');
}

/** Who runs the server: PostgreSQL refuses root, so root hands it to the `postgres` user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('running as root needs a `postgres` user to run PostgreSQL as (apt-get install -y postgresql creates it)');
  return { uid: Number(uid), gid: Number(gid) };
}

/** The processes whose parent is `pid` (the postmaster's backends and helpers), from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      // Fields after the command name, which may hold spaces: state, then ppid.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a real PostgreSQL on a free loopback port in a temporary directory (initdb once, with
 * `--no-sync` for initdb alone; the server runs with `fsync=on`, `synchronous_commit=on`),
 * with password auth over TCP for a superuser, and resolves once it answers queries.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const owner = serverUser();
  const dir = await mkdtemp(join(tmpdir(), 'sagad-pg-'));
  const data = join(dir, 'data');
  const user = 'sagad';
  const as = owner === undefined ? {} : { uid: owner.uid, gid: owner.gid };
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C' };
  let port = 0;
  let proc: { child: ChildProcess; exited: Promise<void> } | undefined;
  let databases = 0;

  const launch = async (): Promise<void> => {
    const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
      '-c', 'fsync=on', '-c', 'synchronous_commit=on', '-c', 'max_connections=200', '-c', 'log_min_messages=fatal'];
    const child = spawn(join(bin, 'postgres'), args, { ...as, env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000); });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    proc = { child, exited };
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last: unknown;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited early (${child.exitCode ?? child.signalCode}): ${stderr}`);
      const c = new pg.Client({ connectionString: urlOf('postgres'), connectionTimeoutMillis: 2_000 });
      try {
        await c.connect();
        await c.query('SELECT 1');
        return;
      } catch (err) {
        last = err;
        await delay(50);
      } finally {
        await c.end().catch(() => {});
      }
    }
    child.kill('SIGKILL');
    throw new Error(`postgres did not answer in time (${String(last)}): ${stderr}`);
  };

  /**
   * The whole server at once, as a machine crash: a backend outliving its postmaster for a
   * moment could still commit what a test sends it just after the "crash", or write into the
   * data directory as a test removes it.
   */
  const killAll = (child: ChildProcess): void => {
    const pid = child.pid;
    if (pid === undefined) return;
    for (const backend of childrenOf(pid)) {
      try {
        process.kill(backend, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    child.kill('SIGKILL');
  };

  /** Stops the postmaster with `signal`; one that has not exited after 10 s (a loaded machine's shutdown checkpoint) is killed with its backends. */
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const p = proc;
    if (p === undefined) return;
    proc = undefined;
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill(signal);
      const timer = setTimeout(() => killAll(p.child), 10_000);
      await p.exited;
      clearTimeout(timer);
    }
  };

  const urlOf = (db: string, auth = { user, password: PASSWORD }): string =>
    `postgresql://${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@127.0.0.1:${port}/${encodeURIComponent(db)}`;

  try {
    if (owner !== undefined) await chown(dir, owner.uid, owner.gid);
    await chmod(dir, 0o700);
    const pwfile = join(dir, 'pw');
    await writeFile(pwfile, PASSWORD, { mode: 0o600 });
    if (owner !== undefined) await chown(pwfile, owner.uid, owner.gid);
    await run(join(bin, 'initdb'), ['-D', data, '-U', user, '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256',
      '--no-sync', '-E', 'UTF8', '--locale=C'], { ...as, env, cwd: dir });
    port = await freePort();
    await launch();
  } catch (err) {
    await halt('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  /** A killed postmaster's backends exit on their own; a new one starts only once they have. */
  const relaunch = async (): Promise<void> => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await launch();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await delay(100);
      }
    }
  };

  // A test file that crashes skips its teardown: kill the server rather than leave it running.
  const onExit = (): void => {
    server.kill9();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const server: PostgresServer = {
    get url() { return urlOf('postgres'); },
    get port() { return port; },
    user,
    password: PASSWORD,
    urlOf,
    async createDatabase(name) {
      databases += 1;
      const db = name ?? `t${process.pid}_${databases}`;
      const c = new pg.Client({ connectionString: urlOf('postgres') });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${db.replaceAll('"', '""')}"`);
      } finally {
        await c.end();
      }
      return urlOf(db);
    },
    async stop() {
      process.off('exit', onExit);
      await halt('SIGINT');
      // Backends killed with their postmaster (halt, above) may take a moment to go.
      await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
    },
    kill9() {
      if (proc !== undefined) killAll(proc.child);
    },
    async restart() {
      await halt('SIGINT');
      await relaunch();
    },
  };
  return server;
}
