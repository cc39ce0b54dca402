import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connectNats } from '../../engine/transport/connection.js';
import type { NatsLink } from '../../engine/transport/connection.js';
import { startNatsServer } from '../helpers/nats-server.js';
import type { NatsServer } from '../helpers/nats-server.js';
import { startSagad } from '../helpers/sagad.js';
import { Api } from './api-client.js';
import type { Sagad } from '../helpers/sagad.js';
import { flagName, readLedger, readReceived } from './ledger.js';
import type { LedgerEntry, Received } from './ledger.js';

/** The fixtures: order-fulfillment with short timeouts, and with load-tolerant ones. */
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const ORDER_DEFS = join(FIXTURES, 'order.yaml');
export const ORDER_LOAD_DEFS = join(FIXTURES, 'order-load.yaml');
const PARTICIPANT = fileURLToPath(new URL('./participant.ts', import.meta.url));

/** The forward steps of order-fulfillment, in order; ship-order is the pivot. */
export const STEPS = ['reserve-inventory', 'charge-payment', 'ship-order'] as const;

/**
 * Writes a variant of a fixture into `dir`, with the schema files beside it: each `[from, to]`
 * must occur in the fixture. Returns the new file's path.
 */
export function fixtureVariant(dir: string, name: string, edits: readonly [string, string][], base = ORDER_DEFS): string {
  let text = readFileSync(base, 'utf8');
  for (const [from, to] of edits) {
    if (!text.includes(from)) throw new Error(`fixture ${base} has no ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  cpSync(join(FIXTURES, 'schemas'), join(dir, 'schemas'), { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** The part of a tap test the harness needs. */
export interface TestLike {
  testdir(): string;
  teardown(fn: () => unknown): void;
}

/** The scripted participant process. */
export interface ParticipantProc {
  child: ChildProcess;
  stderr: string[];
}

/** Spawns test/e2e/participant.ts with the TypeScript loader tap gave this process. */
export async function startParticipant(env: Record<string, string>): Promise<ParticipantProc> {
  // Keep tap's TypeScript loader; its coverage bookkeeping is not wanted in a helper process.
  const execArgv = process.execArgv.filter((a) => !a.includes('@tapjs/processinfo'));
  // stdin is a pipe the participant watches: when this process dies, however, the participant exits.
  const child = spawn(process.execPath, [...execArgv, PARTICIPANT], { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => {
      stderr.push(l);
      if (stderr.length > 500) stderr.shift();
      if (l === 'participant ready') resolve();
    });
    child.once('exit', (code) => reject(new Error(`participant exited with ${code} before it was ready:\n${stderr.join('\n')}`)));
  });
  return { child, stderr };
}

/** One test file's world: a nats-server, sagad on a temp database, the participant and its ledger. */
export interface World {
  readonly dir: string;
  readonly nats: NatsServer;
  readonly dbFile: string;
  readonly definitions: string;
  readonly ledgerPath: string;
  readonly controlDir: string;
  readonly api: Api;
  sagad: Sagad;
  participant: ParticipantProc;
  /** Starts sagad again on the same database and NATS (after stop or kill9). */
  restartSagad(): Promise<Sagad>;
  ledger(): LedgerEntry[];
  /** Every command the participant received, in order. */
  received(): Received[];
  /** A NATS connection of the test's own (publishing triggers and poison). */
  link(): Promise<NatsLink>;
  /** True when sagad's durable consumers have no message left to deliver and none unacknowledged. */
  sagadIdle(): Promise<boolean>;
  /** The same for the participant's consumers of the command subjects. */
  participantIdle(): Promise<boolean>;
  /** Creates the flag file that releases a held or failing operation of an order (`what`: see participant.ts). */
  flag(orderId: string, what: string): void;
  /** Extra diagnostics for an assertion: sagad's and the participant's last log lines. */
  diag(extra?: Record<string, unknown>): Record<string, unknown>;
}

/** Starts nats-server, sagad and the participant for a test file; everything stops on teardown. */
export async function startWorld(t: TestLike, opts: { definitions?: string | ((dir: string) => string); sagadEnv?: Record<string, string> } = {}): Promise<World> {
  const dir = t.testdir();
  const controlDir = join(dir, 'control');
  mkdirSync(controlDir, { recursive: true });
  // Undone in reverse order on teardown: sagad first, then the participant, then NATS.
  const cleanups: (() => unknown)[] = [];
  const cleanUp = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  t.teardown(cleanUp);
  const nats = await startNatsServer();
  cleanups.push(() => nats.stop());
  // If the test file crashes, its teardown does not run: at least stop the server.
  const killNats = () => nats.kill9();
  process.once('exit', killNats);
  cleanups.push(() => process.off('exit', killNats));
  const dbFile = join(dir, 'sagad.db');
  const ledgerPath = join(dir, 'ledger.jsonl');
  const receivedPath = join(dir, 'received.jsonl');
  // A function writes a definitions file into the test directory (see fixtureVariant).
  const definitions = typeof opts.definitions === 'function' ? opts.definitions(dir) : opts.definitions ?? ORDER_DEFS;
  const launch = () => startSagad({ natsUrl: nats.url, dbFile, definitions, env: { SAGA_LOG_LEVEL: 'info', ...opts.sagadEnv } });
  let linkP: Promise<NatsLink> | undefined;
  let participant: ParticipantProc;
  let sagad: Sagad;
  try {
    participant = await startParticipant({ NATS_URL: nats.url, LEDGER: ledgerPath, RECEIVED: receivedPath, CONTROL_DIR: controlDir });
    const started = participant;
    cleanups.push(() => started.child.kill('SIGKILL'));
    sagad = await launch();
  } catch (err) {
    // Thrown from a top-level await, this skips tap's teardown: undo what was started here.
    await cleanUp();
    throw err;
  }
  const world: World = {
    dir, nats, dbFile, definitions, ledgerPath, controlDir,
    api: new Api(() => world.sagad.url),
    sagad,
    participant,
    async restartSagad() {
      world.sagad = await launch();
      return world.sagad;
    },
    ledger: () => readLedger(ledgerPath),
    received: () => readReceived(receivedPath),
    link() {
      linkP ??= connectNats({ url: nats.url, name: 'e2e-test' }).then((l) => {
        cleanups.push(() => l.close());
        return l;
      });
      return linkP;
    },
    sagadIdle: () => idle('sagad-'),
    participantIdle: () => idle('e2e-'),
    flag(orderId, what) {
      writeFileSync(join(controlDir, flagName(orderId, what)), '');
    },
    diag(extra = {}) {
      return { ...extra, sagadLog: world.sagad.logs().slice(-25).join('\n'), participantLog: world.participant.stderr.slice(-10).join('\n') };
    },
  };
  cleanups.push(() => world.sagad.kill9());
  const idle = async (prefix: string) => consumersIdle((await world.link()).jsm, prefix);
  return world;
}

/** True when the durable consumers whose names start with `prefix` have no message left to deliver and none unacknowledged. */
export async function consumersIdle(jsm: NatsLink['jsm'], prefix: string): Promise<boolean> {
  for (const stream of ['INVENTORY', 'PAYMENTS', 'SHIPPING', 'ORDERS']) {
    for await (const c of jsm.consumers.list(stream)) {
      if (c.name.startsWith(prefix) && c.num_pending + c.num_ack_pending > 0) return false;
    }
  }
  return true;
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      const item = items[i];
      if (i >= items.length || item === undefined) return;
      out[i] = await fn(item, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
