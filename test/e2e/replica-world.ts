import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectNats, type NatsLink } from '../../engine/transport/connection.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startSagad, type Sagad } from '../helpers/sagad.js';
import { Api } from './api-client.js';
import { consumersIdle, FIXTURES, ORDER_LOAD_DEFS, startParticipant, type TestLike, type World } from './harness.js';
import { flagName, readLedger, readReceived } from './ledger.js';

/** A world of several sagad replicas sharing one PostgreSQL and one nats-server. */
export interface ReplicaWorld extends World {
  readonly pg: PostgresServer;
  /** The replicas, by index; a killed one stays in place until restarted. */
  readonly replicas: Sagad[];
  /** An API client of each replica, following its restarts. */
  readonly apis: Api[];
  /** Kills replica `i` with SIGKILL; the world's `api` moves to a live one. */
  kill9(i: number): Promise<void>;
  restart(i: number): Promise<Sagad>;
}

/**
 * The load fixture with attempt timeouts of 2 s (its 1 s ones raised): still shorter than a
 * replica's failover (a dead replica's unsent command goes out 2 to 3 s after its commit),
 * which the relay's per-instance order makes safe (replica-order.test.ts has the 1 s case), with
 * room for a loaded machine: with the fixture's 1 s, one run in 13 here (load 20 to 30 on two
 * cores) ended a plain order compensated instead of completed.
 */
function replicaDefinitions(dir: string): string {
  cpSync(join(FIXTURES, 'schemas'), join(dir, 'schemas'), { recursive: true });
  const file = join(dir, 'order-replicas.yaml');
  writeFileSync(file, readFileSync(ORDER_LOAD_DEFS, 'utf8').replace(/timeout: 1s/g, 'timeout: 2s'));
  return file;
}

/**
 * Starts PostgreSQL, nats-server, the scripted participant and `n` sagad processes on one
 * database, with the e2e participant's ledger as the judge's facts; all stop on teardown.
 */
export async function startReplicaWorld(t: TestLike, n: number, opts: { definitions?: string; sagadEnv?: Record<string, string>; firstEnv?: (i: number) => Record<string, string> } = {}): Promise<ReplicaWorld> {
  const dir = t.testdir();
  const controlDir = join(dir, 'control');
  mkdirSync(controlDir, { recursive: true });
  const cleanups: (() => unknown)[] = [];
  const cleanUp = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  t.teardown(cleanUp);
  const pg = await startPostgres();
  cleanups.push(() => pg.stop());
  const dbUrl = await pg.createDatabase('sagad');
  const nats = await startNatsServer();
  cleanups.push(() => nats.stop());
  const ledgerPath = join(dir, 'ledger.jsonl');
  const receivedPath = join(dir, 'received.jsonl');
  const definitions = opts.definitions ?? replicaDefinitions(dir);
  const launch = (extra: Record<string, string> = {}) => startSagad({ natsUrl: nats.url, dbFile: dbUrl, definitions, env: { SAGA_LOG_LEVEL: 'info', ...opts.sagadEnv, ...extra } });
  const participant = await startParticipant({ NATS_URL: nats.url, LEDGER: ledgerPath, RECEIVED: receivedPath, CONTROL_DIR: controlDir });
  cleanups.push(() => participant.child.kill('SIGKILL'));
  const replicas: Sagad[] = [];
  // Started one after the other: the first migrates; the others find the schema (concurrent starts are a store test).
  // `firstEnv` (a fault point, say) is for a replica's first life only; a restart runs plain.
  for (let i = 0; i < n; i++) replicas.push(await launch(opts.firstEnv?.(i)));
  cleanups.push(() => Promise.all(replicas.map((r) => r.kill9())));
  const alive = new Set(replicas.map((_, i) => i));
  let current = 0;
  const apis = replicas.map((_, i) => new Api(() => replicas[i]?.url ?? ''));
  let linkP: Promise<NatsLink> | undefined;
  const world: ReplicaWorld = {
    dir, nats, pg, dbFile: dbUrl, definitions, ledgerPath, controlDir, replicas, apis,
    api: new Api(() => replicas[current]?.url ?? ''),
    get sagad() {
      const r = replicas[current];
      if (r === undefined) throw new Error('no replica');
      return r;
    },
    set sagad(_s: Sagad) {
      throw new Error('use restart(i) in a replica world');
    },
    participant,
    restartSagad: () => world.restart(current),
    async kill9(i) {
      await replicas[i]?.kill9();
      alive.delete(i);
      if (current === i) current = [...alive][0] ?? i;
    },
    async restart(i) {
      const s = await launch();
      replicas[i] = s;
      alive.add(i);
      return s;
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
      return {
        ...extra,
        logs: Object.fromEntries(replicas.map((r, i) => [`replica ${i}`, r.logs().slice(-15).join('\n')])),
        participantLog: participant.stderr.slice(-10).join('\n'),
      };
    },
  };
  const idle = async (prefix: string) => consumersIdle((await world.link()).jsm, prefix);
  return world;
}
