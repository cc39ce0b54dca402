/**
 * The retention bench (issue 11): a database with N finished instances of the example saga,
 * each with its real journal and command rows, then sagad with `SAGA_RETENTION` archiving and
 * deleting all of them while the c100 load runs. It reports the step overhead p99 of load
 * windows without retention (the same database, the same load) and of windows wholly inside
 * the pass (and of two windows after it, retention idle), the pass's time and rate, and the
 * archive's size.
 *
 *   node dist/bench/retention.js [--n 1000000] [--window 20] [--batch 100]
 */
import { fork } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { LoadMessage, LoadResult, LoadSpec } from './loadgen.js';
import { gitSha, memoryMb, root } from './proc.js';
import { generate } from './retention-data.js';
import { sandbox, startSagad } from './targets.js';

/** One load window of the c100 scenario against sagad, by the bench's load generator in a process of its own. */
function loadWindow(natsUrl: string, durationMs: number): Promise<LoadResult> {
  const spec: LoadSpec = {
    natsUrl, concurrency: 100, warmupMs: 2_000, durationMs, failEvery: 10, drainMs: 15_000, runId: `${Date.now()}`, startVia: 'event',
  };
  const load = fork(join(root, 'dist', 'bench', 'loadgen.js'), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<LoadResult>((resolve, reject) => {
    load.on('message', (m: LoadMessage) => {
      if (m.type === 'result') resolve(m.result);
      else if (m.type === 'error') reject(new Error(`load generator failed: ${m.message}`));
    });
    load.once('exit', (code) => reject(new Error(`load generator exited (${code}) without a result`)));
    load.send(spec);
  });
}

/** True while the database still holds an instance created before `before`. */
function oldLeft(file: string, before: number): boolean {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT 1 FROM instances WHERE created_at < ? LIMIT 1').get(before) !== undefined;
  } finally {
    db.close();
  }
}

interface Window { readonly p50: number; readonly p99: number; readonly stepsPerSecond: number; readonly endedAt: number }

async function main(args: string[]): Promise<void> {
  const arg = (name: string, def: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const n = arg('--n', 1_000_000);
  const windowMs = arg('--window', 20) * 1000;
  const batch = arg('--batch', 100);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const box = await sandbox();
  try {
    const file = join(box.dir, 'sagad.db');
    log(`retention bench: ${n} finished instances, batches of ${batch}, c100 load windows of ${windowMs / 1000} s`);
    const gen = generate(file, n, log);
    const dbMbBefore = statSync(file).size / 2 ** 20;
    log(`  generated in ${gen.seconds.toFixed(0)} s: ${gen.journalRows} journal rows, ${dbMbBefore.toFixed(0)} MB`);
    const generatedBefore = Date.now() - 3_600_000;

    // Baseline: the same database and load, no retention.
    let sagad = await startSagad({ natsUrl: box.nats.url, db: file, readyTimeoutMs: 120_000 });
    const baseline: Window[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await loadWindow(box.nats.url, windowMs);
      baseline.push({ p50: r.stepOverhead.p50, p99: r.stepOverhead.p99, stepsPerSecond: r.stepsPerSecond, endedAt: Date.now() });
      log(`  baseline window ${i + 1}: step p50 ${r.stepOverhead.p50.toFixed(1)} ms, p99 ${r.stepOverhead.p99.toFixed(1)} ms, ${r.stepsPerSecond.toFixed(0)} steps/s`);
    }
    await sagad.stop();

    // The pass: sagad with a retention that takes every generated instance and none of the load's.
    const archiveDir = join(box.dir, 'archive');
    sagad = await startSagad({
      natsUrl: box.nats.url, db: file, readyTimeoutMs: 120_000,
      env: { SAGA_RETENTION: '30m', SAGA_LATE_SUCCESS_WINDOW: '30m', SAGA_RETENTION_INTERVAL: '1s', SAGA_RETENTION_BATCH: String(batch), SAGA_ARCHIVE_DIR: archiveDir },
    });
    const passBegan = Date.now();
    let passEnded = 0;
    const watch = (async () => {
      while (oldLeft(file, generatedBefore)) await new Promise((r) => setTimeout(r, 1_000));
      passEnded = Date.now();
    })();
    const during: Window[] = [];
    while (passEnded === 0) {
      const r = await loadWindow(box.nats.url, windowMs);
      const w = { p50: r.stepOverhead.p50, p99: r.stepOverhead.p99, stepsPerSecond: r.stepsPerSecond, endedAt: Date.now() };
      // Only windows wholly inside the pass count (the drain after a window is not measured).
      if (passEnded === 0) {
        during.push(w);
        log(`  during the pass, window ${during.length}: step p50 ${w.p50.toFixed(1)} ms, p99 ${w.p99.toFixed(1)} ms, ${w.stepsPerSecond.toFixed(0)} steps/s`);
      }
    }
    await watch;
    const peakRssMb = memoryMb(sagad.pid);
    // The same load again once the pass is done (retention on, nothing left to take): a
    // baseline on both sides of the pass, so that a machine whose other load changed during
    // the pass shows in the baselines' spread rather than as retention's cost.
    const after: Window[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await loadWindow(box.nats.url, windowMs);
      after.push({ p50: r.stepOverhead.p50, p99: r.stepOverhead.p99, stepsPerSecond: r.stepsPerSecond, endedAt: Date.now() });
      log(`  after the pass, window ${i + 1}: step p50 ${r.stepOverhead.p50.toFixed(1)} ms, p99 ${r.stepOverhead.p99.toFixed(1)} ms, ${r.stepsPerSecond.toFixed(0)} steps/s`);
    }
    await sagad.stop();
    const passSeconds = (passEnded - passBegan) / 1000;
    const archiveBytes = readdirSync(archiveDir).reduce((sum, f) => sum + statSync(join(archiveDir, f)).size, 0);
    const worst = (ws: Window[]) => Math.max(...ws.map((w) => w.p99));
    const mean = (ws: Window[]) => ws.reduce((sum, w) => sum + w.p99, 0) / ws.length;
    const normal = [...baseline, ...after];
    const over2x = during.filter((w) => w.p99 > 2 * mean(normal)).length;
    const median = (ws: Window[]) => {
      const s = ws.map((w) => w.p99).sort((a, b) => a - b);
      return s[Math.floor((s.length - 1) / 2)] ?? 0;
    };
    const report = {
      date: new Date().toISOString(), sha: gitSha(), instances: n, batch, journalRows: gen.journalRows, generateSeconds: gen.seconds,
      dbMbBefore, dbMbAfter: statSync(file).size / 2 ** 20, passSeconds, instancesPerSecond: n / passSeconds,
      archiveMb: archiveBytes / 2 ** 20, archiveBytesPerInstance: archiveBytes / n, archiveFiles: readdirSync(archiveDir).length,
      baseline, during, after, stepP99: { baselineWorst: worst(baseline), normalMean: mean(normal), normalWorst: worst(normal), duringWorst: worst(during), duringMedian: median(during) },
      ratioWorst: worst(during) / worst(baseline), ratioMedian: median(during) / worst(baseline),
      ratioMedianToNormalMean: median(during) / mean(normal), windowsOver2xNormalMean: over2x, peakRssMb,
    };
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    const out = join(root, 'bench', 'results', `${report.date.slice(0, 19).replace(/:/g, '-')}-${report.sha}-retention.json`);
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`retention of ${n} finished instances (${gen.journalRows} journal rows, ${dbMbBefore.toFixed(0)} MB) under c100 load:\n`
      + `  pass: ${passSeconds.toFixed(0)} s, ${report.instancesPerSecond.toFixed(0)} instances/s, batches of ${batch}\n`
      + `  archive: ${report.archiveMb.toFixed(1)} MB in ${report.archiveFiles} file(s), ${report.archiveBytesPerInstance.toFixed(0)} bytes per instance\n`
      + `  step p99: ${worst(baseline).toFixed(1)} ms without retention; during the pass ${median(during).toFixed(1)} ms (median window), ${worst(during).toFixed(1)} ms (worst window)`
      + ` = ${report.ratioMedian.toFixed(2)}x / ${report.ratioWorst.toFixed(2)}x (goal: at most 2x)\n`
      + `  normal windows (2 before, 2 after the pass): p99 ${normal.map((w) => w.p99.toFixed(1)).join(', ')} ms, mean ${mean(normal).toFixed(1)};`
      + ` median window during / mean normal ${report.ratioMedianToNormalMean.toFixed(2)}x; ${over2x} of ${during.length} windows over 2x the mean\n`
      + `  database file: ${dbMbBefore.toFixed(0)} MB before, ${report.dbMbAfter.toFixed(0)} MB after (freed pages are reused, the file does not shrink)\n`
      + `  sagad peak RSS ${peakRssMb.toFixed(0)} MB\nresults: ${out}\n`);
  } finally {
    await box.close();
  }
}

await main(process.argv.slice(2));
