import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { runEngineLoop } from './engine-loop.js';
import { runList } from './list.js';
import { gitSha, root } from './proc.js';
import { formatProfile, summarizeProfile } from './profile.js';
import { formatCompare, formatReport, goals, ratios, type BenchReport, type ScenarioReport } from './report.js';
import { runRestart } from './restart.js';
import { postgresBinDir } from '../test/helpers/postgres.js';
import { postgresDb, sqliteDb, type Db, type StoreKind } from './targets.js';
import { runScenario, SCENARIOS, type ScenarioResult, type Target, type Timing } from './throughput.js';
import { runTimers } from './timers.js';

const HELP = `npm run bench [-- options]

  (no option)           the full run (under 15 minutes on 2 cores): throughput scenarios against
                        the reference loop (grouped commits; the per-commit loop once, for context),
                        100k timers, restart with 10k in flight, list over 1M, the engine alone
  --quick               a few seconds of each, for development
  --store sqlite|postgres   where sagad and the reference loop keep state (default sqlite); postgres
                        starts a PostgreSQL 15 of the bench's own (fsync=on, synchronous_commit=on)
                        and runs throughput, timers and restart on it (list and engine are SQLite-only)
  --scenarios LIST      throughput scenarios to run (default c1,c100,c1000,c100-fail10%,c100-http;
                        also c1000-http)
  --no-per-commit       leave out the per-commit reference loop
  --only LIST           comma-separated parts: throughput,timers,restart,list,engine
                        (engine: the engine alone in this process, no NATS; CPU per saga of its hot path)
  --profile [SCENARIO]  sagad under node --cpu-prof during one scenario (default c100: c1, c100, c1000,
                        c100-fail10%), on --store's store; prints where it spends its time in the measured window
  --compare A.json B.json   the change of every figure from A to B
`;

interface Plan {
  readonly timing: Timing;
  readonly rounds: number;
  readonly timers: { n: number; spreadMs: number; marginMs: number };
  readonly restart: number;
  readonly list: { n: number; requests: number };
  readonly engine: { sagas: number; rounds: number };
}

const FULL: Plan = {
  timing: { warmupMs: 2_000, durationMs: 6_000, drainMs: 15_000 }, rounds: 3,
  timers: { n: 100_000, spreadMs: 60_000, marginMs: 10_000 }, restart: 10_000, list: { n: 1_000_000, requests: 400 },
  engine: { sagas: 5_000, rounds: 3 },
};
const QUICK: Plan = {
  timing: { warmupMs: 1_000, durationMs: 2_000, drainMs: 10_000 }, rounds: 1,
  timers: { n: 3_000, spreadMs: 3_000, marginMs: 2_000 }, restart: 1_000, list: { n: 20_000, requests: 200 },
  engine: { sagas: 1_500, rounds: 2 },
};

/** Median of each numeric field over several results of the same shape (mean of the middle two for an even count). */
function medianOf<T>(xs: readonly T[]): T {
  const first = xs[0];
  if (typeof first === 'number') {
    const s = (xs as unknown as number[]).slice().sort((a, b) => a - b);
    const mid = s.length / 2;
    return (s.length % 2 === 1 ? s[Math.floor(mid)] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2) as T;
  }
  if (first === null || typeof first !== 'object') return first as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(first)) out[k] = medianOf(xs.map((x) => (x as Record<string, unknown>)[k]));
  return out as T;
}

async function throughput(plan: Plan, db: Db, log: (s: string) => void, names: readonly string[] | null, perCommit: boolean): Promise<Record<string, ScenarioReport>> {
  const out: Record<string, ScenarioReport> = {};
  const unknown = names?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0) throw new Error(`no scenario ${unknown.join(', ')}; there are ${SCENARIOS.map((s) => s.name).join(', ')}`);
  for (const s of SCENARIOS.filter((x) => (names === null ? x.byDefault : names.includes(x.name)))) {
    const rounds: Record<Target, ScenarioResult[]> = { sagad: [], reference: [], 'reference-per-commit': [] };
    const run = async (target: Target, i: number) => {
      const r = await runScenario(target, s, plan.timing, db);
      rounds[target].push(r);
      log(`  ${s.name} ${target} round ${i + 1}: ${r.stepsPerSecond.toFixed(0)} steps/s, ${r.sagasPerSecond.toFixed(1)} sagas/s, step p50 ${r.stepOverhead.p50.toFixed(2)} ms, `
        + `peak RSS ${r.peakRssMb.toFixed(0)} MB, fsync p50 ${r.fsyncMs.p50.toFixed(2)} ms, others ${r.othersCpuSeconds.toFixed(1)} CPU s`);
    };
    for (let i = 0; i < plan.rounds; i++) {
      for (const target of ['reference', 'sagad'] as const) await run(target, i);
    }
    // The per-commit loop is context, not a base: one round is enough.
    if (perCommit) await run('reference-per-commit', 0);
    // Other work on a shared machine only ever slows a round down, so each target's fastest
    // round is the best estimate of what it can do; the medians are kept beside it.
    const best = (rs: ScenarioResult[]) => rs.reduce((a, b) => (b.stepsPerSecond > a.stepsPerSecond ? b : a));
    const sagad = best(rounds.sagad);
    const reference = best(rounds.reference);
    const median = { sagad: medianOf(rounds.sagad), reference: medianOf(rounds.reference) };
    const pc = rounds['reference-per-commit'];
    out[s.name] = {
      concurrency: s.concurrency, failEvery: s.failEvery, startVia: s.startVia, sagad, reference, ...(pc.length > 0 ? { perCommit: best(pc) } : {}),
      ratio: ratios(sagad, reference), median: { ...median, ratio: ratios(median.sagad, median.reference) },
      rounds: { sagad: rounds.sagad, reference: rounds.reference, ...(pc.length > 0 ? { perCommit: pc } : {}) },
    };
  }
  return out;
}

async function profile(plan: Plan, name: string, db: Db): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sagad-bench-prof-'));
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (scenario === undefined) throw new Error(`no scenario ${name}; there are ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const r = await runScenario('sagad', scenario, plan.timing, db, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const file = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`sagad wrote no profile into ${dir}`);
  const kept = join(root, 'bench', 'results', `${stamp()}-${gitSha()}-sagad-${name}${db.kind === 'postgres' ? '-postgres' : ''}.cpuprofile.json`);
  copyFileSync(join(dir, file), kept);
  rmSync(dir, { recursive: true, force: true });
  const window = { fromMs: r.windowFromSpawnMs, toMs: r.windowFromSpawnMs + plan.timing.durationMs };
  const summary = summarizeProfile(kept, ['handleInbound', 'flush', 'writeDecision', 'decide', 'publishAll', 'markSent', 'unsent', 'parseEnvelope'], window);
  process.stdout.write(`sagad ${name} under --cpu-prof: ${r.sagasPerSecond.toFixed(1)} sagas/s, step p50 ${r.stepOverhead.p50.toFixed(2)} ms (profiled, so slower); `
    + `the ${plan.timing.durationMs / 1000} s window only\n${formatProfile(summary)}\n\nprofile: ${kept} (open in Chrome DevTools > Performance)\n`);
}

function stamp(): string {
  return new Date().toISOString().slice(0, 19).replace(/:/g, '-');
}

async function main(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const cmp = args.indexOf('--compare');
  if (cmp >= 0) {
    const [a, b] = [args[cmp + 1], args[cmp + 2]];
    if (a === undefined || b === undefined) throw new Error('--compare needs two result files');
    const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
    process.stdout.write(`${formatCompare(read(a), read(b))}\n`);
    return;
  }
  const quick = args.includes('--quick');
  const plan = quick ? QUICK : FULL;
  const storeAt = args.indexOf('--store');
  const store = (storeAt >= 0 ? args[storeAt + 1] : 'sqlite') as StoreKind;
  if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--store takes sqlite or postgres, not ${String(args[storeAt + 1])}`);
  const prof = args.indexOf('--profile');
  if (prof >= 0) {
    const pdb = store === 'postgres' ? await postgresDb() : sqliteDb;
    try {
      return await profile(plan, args[prof + 1]?.startsWith('c') === true ? args[prof + 1] ?? 'c100' : 'c100', pdb);
    } finally {
      await pdb.close();
    }
  }
  const onlyAt = args.indexOf('--only');
  const only = new Set(onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',') : ['throughput', 'timers', 'restart', ...(store === 'sqlite' ? ['list', 'engine'] : [])]);
  if (store === 'postgres' && (only.has('list') || only.has('engine'))) throw new Error('list and engine run on SQLite only; leave them out of --only with --store postgres');
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const began = performance.now();
  const natsServer = /v[\d.]+/.exec(execFileSync('nats-server', ['--version'], { encoding: 'utf8' }))?.[0] ?? 'unknown';
  const postgres = store === 'postgres' ? /\d+(\.\d+)*/.exec(execFileSync(join(postgresBinDir(), 'postgres'), ['--version'], { encoding: 'utf8' }))?.[0] ?? 'unknown' : undefined;
  log(`sagad bench (${quick ? 'quick' : 'full'}, ${store}): ${[...only].join(', ')}`);
  const db = store === 'postgres' ? await postgresDb() : sqliteDb;
  try {
    const pick = args.indexOf('--scenarios');
    const scenarios = only.has('throughput') ? await throughput(plan, db, log, pick >= 0 ? (args[pick + 1] ?? '').split(',') : null, !args.includes('--no-per-commit')) : {};
    if (only.has('timers')) log(`  timers: ${plan.timers.n} over ${plan.timers.spreadMs / 1000} s`);
    const timers = only.has('timers') ? await runTimers(plan.timers.n, plan.timers.spreadMs, plan.timers.marginMs, db) : undefined;
    if (only.has('restart')) log(`  restart with ${plan.restart} in flight`);
    const restart = only.has('restart') ? await runRestart(plan.restart, db) : undefined;
    if (only.has('list')) log(`  list over ${plan.list.n} finished`);
    const list = only.has('list') ? await runList(plan.list.n, plan.list.requests) : undefined;
    if (only.has('engine')) log(`  engine alone: ${plan.engine.sagas} sagas at concurrency 100, ${plan.engine.rounds} rounds`);
    const engine = only.has('engine') ? await runEngineLoop(plan.engine.sagas, 100, plan.engine.rounds) : undefined;
    const base = {
      version: 2 as const, date: new Date().toISOString(), sha: gitSha(), mode: quick ? 'quick' as const : 'full' as const, store,
      command: `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, natsServer, ...(postgres === undefined ? {} : { postgres }) },
      seconds: (performance.now() - began) / 1000, scenarios, timers, restart, list, engine,
    };
    write({ ...base, goals: goals(base) });
  } finally {
    await db.close();
  }
}

/** Writes the report to bench/results/ and prints it. */
function write(report: BenchReport): void {
  const quick = report.mode === 'quick';
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const file = join(root, 'bench', 'results', `${stamp()}-${report.sha}${report.store === 'postgres' ? '-postgres' : ''}${quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${formatReport(report)}\n\nresults: ${file}\n`);
}

await main(process.argv.slice(2));
