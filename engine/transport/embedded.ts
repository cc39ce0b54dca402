import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { SagaError } from '../errors.js';
import type { LogFn, LogLevel } from '../log.js';

/** Codes of embedded nats-server failures. */
export const EmbeddedNatsErrorCode = {
  Missing: 'SAGA_ERR_NATS_MISSING',
  Start: 'SAGA_ERR_NATS_START',
} as const;
/** One of {@link EmbeddedNatsErrorCode}'s values. */
export type EmbeddedNatsErrorCode = (typeof EmbeddedNatsErrorCode)[keyof typeof EmbeddedNatsErrorCode];

/** The sentence sagad stops with when it needs an embedded server and none is installed. */
export const NATS_MISSING_MESSAGE =
  'nats-server was not found on PATH; install it (Debian: apt-get install -y nats-server) or set NATS_URL to an existing server';

/** A nats-server run by sagad itself. */
export interface EmbeddedNats {
  url: string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the server has exited. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;
const KILL_AFTER_MS = 5_000;

// Runs between sagad and nats-server: when sagad dies, even by SIGKILL, its end of our stdin
// closes (or our parent pid changes) and the watchdog stops nats-server, which has no such flag.
const WATCHDOG = `
const { spawn } = require('node:child_process');
const { constants } = require('node:os');
const [bin, ...args] = process.argv.slice(1);
const parent = process.ppid;
const server = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
process.stderr.on('error', () => {});
server.stderr.on('data', (b) => { try { process.stderr.write(b); } catch {} });
server.on('error', (e) => { try { process.stderr.write('[FTL] ' + e.message + '\\n'); } catch {} process.exit(127); });
server.on('exit', (code, sig) => process.exit(code ?? 128 + (constants.signals[sig] ?? 0)));
const send = (sig) => { if (server.exitCode === null && server.signalCode === null) server.kill(sig); };
process.on('SIGTERM', () => send('SIGTERM'));
process.on('SIGINT', () => send('SIGINT'));
let orphaned = false;
const orphan = () => { if (orphaned) return; orphaned = true; send('SIGTERM'); setTimeout(() => send('SIGKILL'), ${KILL_AFTER_MS}); };
process.stdin.on('end', orphan).on('close', orphan).on('error', orphan).resume();
setInterval(() => { if (process.ppid !== parent) orphan(); }, 500);
`;

/**
 * Starts `nats-server -js` from PATH on a free loopback port with its store in `<dataDir>/nats`
 * and resolves once JetStream answers; the server stops when sagad stops or dies.
 */
export async function startEmbeddedNats(dataDir: string, log: LogFn, onUnexpectedExit: () => void = () => undefined): Promise<EmbeddedNats> {
  const bin = findOnPath('nats-server');
  if (bin === undefined) throw new SagaError(EmbeddedNatsErrorCode.Missing, NATS_MISSING_MESSAGE);
  const storeDir = resolve(dataDir, 'nats');
  const portsDir = join(storeDir, 'ports');
  await mkdir(storeDir, { recursive: true });
  await waitForPreviousServer(storeDir, log);
  await rm(portsDir, { recursive: true, force: true });
  await mkdir(portsDir);

  const args = ['-js', '-a', '127.0.0.1', '-p', '-1', '--ports_file_dir', portsDir, '-sd', storeDir, '-P', join(storeDir, 'nats-server.pid')];
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // the watchdog needs no loaders or instrumentation
  // Its own process group, so a Ctrl-C meant for sagad does not stop NATS before sagad has drained.
  const child = spawn(process.execPath, ['-e', WATCHDOG, bin, ...args], { stdio: ['pipe', 'ignore', 'pipe'], detached: true, env });
  const tail: string[] = [];
  let partial = '';
  child.stderr?.on('data', (b: Buffer) => {
    const lines = (partial + b.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines.filter((l) => l.trim() !== '')) {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      log(serverLevel(line), 'nats-server', { line });
    }
  });
  let stopping = false;
  const exited = new Promise<void>((done) => child.once('exit', (code, signal) => {
    if (!stopping) {
      log('error', 'embedded nats-server exited unexpectedly', { code, signal, stderr: tail.join('\n') });
      onUnexpectedExit();
    }
    done();
  }));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const killGroup = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };

  let url: string;
  try {
    url = await waitUntilReady(portsDir, alive);
  } catch (err) {
    stopping = true;
    killGroup();
    await exited;
    const why = err instanceof Error ? err.message : String(err);
    throw new SagaError(EmbeddedNatsErrorCode.Start, `embedded nats-server did not start: ${why}\n${tail.join('\n')}`, { cause: err });
  }
  log('info', `started embedded nats-server at ${url}, store ${storeDir}`, { url, store: storeDir });

  return {
    url,
    async stop() {
      if (stopping) return exited;
      stopping = true;
      if (alive()) {
        child.kill('SIGTERM'); // the watchdog passes it on and exits with the server
        const timer = setTimeout(killGroup, KILL_AFTER_MS);
        await exited;
        clearTimeout(timer);
      }
      child.stdin?.destroy();
      log('info', 'embedded nats-server stopped', { store: storeDir });
      return undefined;
    },
  };
}

/** The absolute path of an executable found on PATH, or undefined. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return resolve(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

function serverLevel(line: string): LogLevel {
  if (/\[(ERR|FTL)\]/.test(line)) return 'error';
  if (/\[WRN\]/.test(line)) return 'warn';
  return 'debug';
}

async function waitUntilReady(portsDir: string, alive: () => boolean): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let url: string | undefined;
  let last: unknown;
  // The ports file appears once the client listener is up; JetStream may take a moment longer.
  while (Date.now() < deadline) {
    if (!alive()) throw new Error('it exited');
    url ??= await readPortsFile(portsDir);
    if (url !== undefined) {
      try {
        const nc = await connect({ servers: url, reconnect: false, timeout: 2_000 });
        try {
          await (await jetstreamManager(nc, { timeout: 2_000 })).getAccountInfo();
          return url;
        } finally {
          await nc.close();
        }
      } catch (err) {
        last = err;
      }
    }
    await delay(25);
  }
  throw new Error(url === undefined ? 'it wrote no ports file in time' : `JetStream did not answer in time (${String(last)})`);
}

async function readPortsFile(dir: string): Promise<string | undefined> {
  const name = (await readdir(dir)).find((n) => n.endsWith('.ports'));
  if (name === undefined) return undefined;
  try {
    const parsed = JSON.parse(await readFile(join(dir, name), 'utf8')) as { nats?: string[] };
    return parsed.nats?.[0];
  } catch {
    return undefined; // partially written; read it again
  }
}

/** nats-server 2.9 does not lock its store, so never start a second server on the store of one still stopping. */
async function waitForPreviousServer(storeDir: string, log: LogFn): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(join(storeDir, 'nats-server.pid'), 'utf8')).trim());
  } catch {
    return;
  }
  const usesStore = async (): Promise<boolean> => {
    try {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      return (argv[0] ?? '').endsWith('nats-server') && argv.includes(storeDir);
    } catch {
      return false; // gone (or no /proc: nothing to check with)
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !(await usesStore())) return;
  log('warn', 'a previous embedded nats-server still uses the store; waiting for it to exit', { pid, store: storeDir });
  const deadline = Date.now() + 2 * KILL_AFTER_MS;
  while (await usesStore()) {
    if (Date.now() > deadline) {
      throw new SagaError(EmbeddedNatsErrorCode.Start,
        `another nats-server (pid ${pid}) is using the store ${storeDir}; stop it or give this sagad another data directory`);
    }
    await delay(100);
  }
}
