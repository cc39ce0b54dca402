import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { writeFile } from 'node:fs/promises';
import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

/** A running nats-server started by {@link startNatsServer}. */
export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes the directories it created. */
  stop(): Promise<void>;
  /** Stops the process but keeps the store, then starts a new one on the same port and store. */
  restart(): Promise<void>;
  /** Stops the process, empties its JetStream store (every stream, consumer and KV bucket gone), and starts a new one on the same port. */
  restartEmpty(): Promise<void>;
  /** Kills the process with SIGKILL without waiting or cleaning up. */
  kill9(): void;
  /** Stops the process (SIGTERM, then SIGKILL) but keeps the store and the port for {@link resume}: an outage. */
  halt(): Promise<void>;
  /** Starts the server again on the same port and store after {@link halt} (or kill9); resolves once JetStream answers. */
  resume(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;

/** Returns the path of `nats-server` on PATH, or throws a sentence saying how to install it. */
export function natsServerPath(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'nats-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error('nats-server not found on PATH; install it with `apt-get install -y nats-server`');
}

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  storeDir?: string;
  port?: number;
  /** Text of a nats-server configuration file (authorization, TLS...), passed with `-c`; the flags still set port and store. */
  config?: string;
  /** How the readiness check connects (credentials, TLS) to a server that `config` secures. */
  check?: Partial<NodeConnectionOptions>;
}

/** Starts a real JetStream-enabled nats-server on a free (or given) port and resolves once JetStream answers. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = natsServerPath();
  const ownStore = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), 'sagad-nats-store-')));
  let port = opts.port ?? -1;
  let proc: { child: ChildProcess; portsDir: string; exited: Promise<void> } | undefined;

  const launch = async (): Promise<void> => {
    const portsDir = await mkdtemp(join(tmpdir(), 'sagad-nats-ports-'));
    const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '--ports_file_dir', portsDir, '-sd', storeDir];
    if (opts.config !== undefined) {
      const file = join(portsDir, 'nats-server.conf');
      await writeFile(file, opts.config);
      args.push('-c', file);
    }
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000); });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    proc = { child, portsDir, exited };
    const deadline = Date.now() + START_TIMEOUT_MS;
    const fail = (why: string): Error => new Error(`nats-server ${why}; args: ${args.join(' ')}\n${stderr}`);
    // The ports file is written once the client listener is up.
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw fail(`exited early (${child.exitCode ?? child.signalCode})`);
      if (Date.now() > deadline) throw fail('did not write its ports file in time');
      const found = await readPort(portsDir);
      if (found !== undefined) { port = found; break; }
      await delay(20);
    }
    await waitForJetStream(`nats://127.0.0.1:${port}`, deadline, fail, opts.check);
  };

  const halt = async (): Promise<void> => {
    const p = proc;
    if (p === undefined) return;
    proc = undefined;
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 5_000);
      await p.exited;
      clearTimeout(timer);
    }
    await rm(p.portsDir, { recursive: true, force: true });
  };

  try {
    await launch();
  } catch (err) {
    proc?.child.kill('SIGKILL');
    await halt();
    if (ownStore) await rm(storeDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    get port() { return port; },
    storeDir,
    async stop() {
      await halt();
      if (ownStore) await rm(storeDir, { recursive: true, force: true });
    },
    async restart() {
      await halt();
      await launch();
    },
    async restartEmpty() {
      await halt();
      for (const entry of await readdir(storeDir)) await rm(join(storeDir, entry), { recursive: true, force: true });
      await launch();
    },
    kill9() {
      proc?.child.kill('SIGKILL');
    },
    halt,
    async resume() {
      await halt();
      await launch();
    },
  };
}

async function readPort(dir: string): Promise<number | undefined> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.ports'));
  if (names[0] === undefined) return undefined;
  try {
    const parsed = JSON.parse(await readFile(join(dir, names[0]), 'utf8')) as { nats?: string[] };
    const url = parsed.nats?.[0];
    return url === undefined ? undefined : Number(new URL(url).port);
  } catch {
    return undefined; // partially written; read again
  }
}

async function waitForJetStream(url: string, deadline: number, fail: (why: string) => Error, check: Partial<NodeConnectionOptions> = {}): Promise<void> {
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const nc = await connect({ ...check, servers: url, reconnect: false, timeout: 2_000 });
      try {
        await (await jetstreamManager(nc, { timeout: 2_000 })).getAccountInfo();
        return;
      } finally {
        await nc.close();
      }
    } catch (err) {
      last = err;
      await delay(50);
    }
  }
  throw fail(`did not answer JetStream requests in time (${String(last)})`);
}
