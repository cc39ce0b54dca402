import { fork } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { LoadMessage, LoadResult, LoadSpec } from './loadgen.js';
import { cpuSeconds, ioCounters, memoryMb, pidWith, root, systemBusySeconds, treeCpuSeconds, type Child, type IoCounters } from './proc.js';
import { percentiles, type Percentiles } from './stats.js';
import { sandbox, startReference, startSagad, type Db } from './targets.js';

/** One closed-loop scenario of the example saga. */
export interface Scenario {
  readonly name: string;
  readonly concurrency: number;
  /** Every n-th saga is rejected at ship-order and compensates; 0 for none. */
  readonly failEvery: number;
  /** Started by the trigger event (`OrderPlaced` on orders.events) or by `POST /v1/sagas/{name}/instances`. */
  readonly startVia: 'event' | 'http';
  /** Run unless `--scenarios` names others. */
  readonly byDefault: boolean;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'c1', concurrency: 1, failEvery: 0, startVia: 'event', byDefault: true },
  { name: 'c100', concurrency: 100, failEvery: 0, startVia: 'event', byDefault: true },
  { name: 'c1000', concurrency: 1000, failEvery: 0, startVia: 'event', byDefault: true },
  { name: 'c100-fail10%', concurrency: 100, failEvery: 10, startVia: 'event', byDefault: true },
  { name: 'c100-http', concurrency: 100, failEvery: 0, startVia: 'http', byDefault: true },
  { name: 'c1000-http', concurrency: 1000, failEvery: 0, startVia: 'http', byDefault: false },
];

/** sagad, the reference loop with grouped commits (what ratios are taken against), and the one committing every input alone. */
export type Target = 'sagad' | 'reference' | 'reference-per-commit';

/** The load generator's figures plus the target process's CPU seconds in the window and its peak RSS. */
export interface ScenarioResult extends LoadResult {
  readonly cpuSeconds: number;
  /** CPU milliseconds of the target per saga finished in the window. */
  readonly cpuMsPerSaga: number;
  /** VmHWM of /proc/<pid>/status: the kernel's high-water mark of the whole process (all threads), over its life. */
  readonly peakRssMb: number;
  /** The largest VmRSS seen by sampling every 50 ms from spawn to the end of the drain; a cross-check of peakRssMb. */
  readonly sampledRssMb: number;
  /** Time of one fsync'd SQLite commit, sampled every 100 ms in the bench process during the window: the disk's speed then. */
  readonly fsyncMs: Percentiles;
  /** Per saga finished in the window, the target's bytes handed to write calls (files and sockets), write calls, and bytes sent to storage. */
  readonly writeKbPerSaga: number;
  readonly writeCallsPerSaga: number;
  readonly diskKbPerSaga: number;
  /** CPU seconds in the window: nats-server, and every process on the machine that is not part of this run (other work, noise). */
  readonly natsCpuSeconds: number;
  /** PostgreSQL mode: CPU seconds of the PostgreSQL server (postmaster and every backend) in the window; 0 with SQLite. */
  readonly dbCpuSeconds: number;
  readonly othersCpuSeconds: number;
  /** When the measurement window began, ms after the target was spawned (to cut a profile to the window). */
  readonly windowFromSpawnMs: number;
}

export interface Timing {
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly drainMs: number;
}

/**
 * Runs one scenario against a fresh nats-server and a fresh target process (sagad or the
 * reference loop) on a fresh database of `db`, with the load generator forked as a third process.
 */
export async function runScenario(target: Target, s: Scenario, t: Timing, db: Db, nodeArgs: readonly string[] = []): Promise<ScenarioResult> {
  const box = await sandbox();
  let child: (Child & { url: string }) | undefined;
  let rss: NodeJS.Timeout | undefined;
  try {
    const file = await db.fresh(box.dir, target);
    child = target === 'sagad'
      ? await startSagad({ natsUrl: box.nats.url, db: file, nodeArgs })
      : await startReference(box.nats.url, file, target === 'reference' ? 'grouped' : 'per-commit');
    const pid = child.pid;
    let sampledRssMb = memoryMb(pid, 'VmRSS');
    rss = setInterval(() => { sampledRssMb = Math.max(sampledRssMb, memoryMb(pid, 'VmRSS')); }, 50);
    const spec: LoadSpec = {
      natsUrl: box.nats.url, concurrency: s.concurrency, warmupMs: t.warmupMs, durationMs: t.durationMs, failEvery: s.failEvery, drainMs: t.drainMs,
      runId: `${Date.now()}`, startVia: s.startVia, httpUrl: child.url,
    };
    let cpuStart = 0;
    let windowAt = 0;
    const natsPid = pidWith(box.nats.storeDir) ?? 0;
    const dbPid = db.serverPid();
    const sample = () => ({ io: ioCounters(pid), nats: cpuSeconds(natsPid), db: dbPid === undefined ? 0 : treeCpuSeconds(dbPid), system: systemBusySeconds(), self: process.cpuUsage() });
    let w0 = sample();
    let w1 = w0;
    let cpuEnd = 0;
    const disk = diskSampler(join(box.dir, 'fsync-probe.db'));
    const load = fork(join(root, 'dist', 'bench', 'loadgen.js'), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const result = await new Promise<LoadResult>((resolve, reject) => {
      load.on('message', (m: LoadMessage) => {
        if (m.type === 'window') {
          if (m.phase === 'start') {
            cpuStart = cpuSeconds(pid);
            w0 = sample();
            windowAt = performance.now();
            disk.start();
          } else {
            cpuEnd = cpuSeconds(pid);
            w1 = sample();
            disk.stop();
          }
        } else if (m.type === 'result') resolve(m.result);
        else reject(new Error(`load generator failed: ${m.message}`));
      });
      load.once('exit', (code) => reject(new Error(`load generator exited (${code}) without a result`)));
      load.send(spec);
    });
    clearInterval(rss);
    const peakRssMb = memoryMb(pid, 'VmHWM');
    const cpu = cpuEnd - cpuStart;
    const n = Math.max(1, result.finishedInWindow);
    const io = (k: keyof IoCounters) => (w1.io[k] - w0.io[k]) / n;
    const natsCpu = w1.nats - w0.nats;
    const dbCpu = w1.db - w0.db;
    const selfCpu = process.cpuUsage(w0.self);
    const others = w1.system - w0.system - cpu - natsCpu - dbCpu - result.loadgenCpuSeconds - (selfCpu.user + selfCpu.system) / 1e6;
    return {
      ...result, cpuSeconds: cpu, cpuMsPerSaga: (cpu * 1000) / n, peakRssMb, sampledRssMb, fsyncMs: disk.result(), dbCpuSeconds: dbCpu,
      writeKbPerSaga: io('wchar') / 1024, writeCallsPerSaga: io('syscw'), diskKbPerSaga: io('writeBytes') / 1024,
      natsCpuSeconds: natsCpu, othersCpuSeconds: Math.max(0, others), windowFromSpawnMs: windowAt - child.spawnedAt,
    };
  } finally {
    clearInterval(rss);
    await child?.stop();
    await box.close();
  }
}

/**
 * Times one fsync'd WAL commit every 100 ms while started. The disk of a shared machine
 * changes speed by 10x within seconds; this says how fast it was while a target ran.
 */
function diskSampler(file: string): { start(): void; stop(): void; result(): Percentiles } {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS probe (v TEXT)');
  const insert = db.prepare('INSERT INTO probe (v) VALUES (?)');
  const commit = db.transaction(() => insert.run('x'.repeat(300)));
  const samples: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  return {
    start() {
      timer = setInterval(() => {
        const t = performance.now();
        commit();
        samples.push(performance.now() - t);
      }, 100);
    },
    stop() {
      clearInterval(timer);
      db.close();
    },
    result: () => percentiles(samples),
  };
}
