import t from 'tap';
import { goals, ratios, type BenchReport, type ScenarioReport } from '../../bench/report.js';
import type { ScenarioResult } from '../../bench/throughput.js';

const p = (p50: number, p99 = p50) => ({ count: 10, p50, p99, max: p99, mean: p50 });

/** A scenario result with every figure neutral except those given. */
function result(x: Partial<ScenarioResult>): ScenarioResult {
  return {
    sagasPerSecond: 100, stepsPerSecond: 300, inputsPerSecond: 400, finishedInWindow: 600, latency: p(10), stepOverhead: p(1, 2), startOverhead: p(1),
    startResponse: p(0), started: 600, completed: 600, compensated: 0, failed: 0, wrongOutcome: 0, unfinished: 0, publishErrors: 0, duplicateCommands: 0,
    loadgenCpuSeconds: 1, cpuSeconds: 1, cpuMsPerSaga: 1, peakRssMb: 100, sampledRssMb: 100, fsyncMs: p(1), writeKbPerSaga: 1, writeCallsPerSaga: 1,
    diskKbPerSaga: 1, natsCpuSeconds: 1, dbCpuSeconds: 0, othersCpuSeconds: 0, windowFromSpawnMs: 0, ...x,
  };
}

function scenario(concurrency: number, startVia: 'event' | 'http', sagad: Partial<ScenarioResult>, reference: Partial<ScenarioResult> = {}): ScenarioReport {
  const s = result(sagad);
  const r = result(reference);
  return { concurrency, failEvery: 0, startVia, sagad: s, reference: r, ratio: ratios(s, r), median: { sagad: s, reference: r, ratio: ratios(s, r) }, rounds: { sagad: [s], reference: [r] } };
}

function report(scenarios: Record<string, ScenarioReport>, store: 'sqlite' | 'postgres' = 'sqlite'): Omit<BenchReport, 'goals'> {
  return {
    version: 2, date: '2026-11-27T00:00:00Z', sha: 'abc', mode: 'full', store, command: 'npm run bench', seconds: 1, scenarios,
    machine: { cpus: 2, cpuModel: 'x', memoryGb: 1, node: 'v20', natsServer: 'v2' },
  };
}

const verdict = (gs: ReturnType<typeof goals>, start: string) => gs.find((g) => g.goal.startsWith(start))?.pass;

t.test('throughput goals are shares of the grouped reference steps/s: 70% for trigger starts, 60% for HTTP starts', async (t) => {
  const gs = goals(report({
    c100: scenario(100, 'event', { stepsPerSecond: 700 }, { stepsPerSecond: 1000 }),
    c1000: scenario(1000, 'event', { stepsPerSecond: 699 }, { stepsPerSecond: 1000 }),
    'c100-http': scenario(100, 'http', { stepsPerSecond: 600 }, { stepsPerSecond: 1000 }),
    'c1000-http': scenario(1000, 'http', { stepsPerSecond: 599 }, { stepsPerSecond: 1000 }),
  }));
  t.equal(verdict(gs, 'c100 (trigger'), true);
  t.equal(verdict(gs, 'c1000 (trigger'), false);
  t.equal(verdict(gs, 'c100-http (HTTP'), true);
  t.equal(verdict(gs, 'c1000-http (HTTP'), false);
});

t.test('sagas/s does not decide a throughput goal, steps/s does', async (t) => {
  const gs = goals(report({ c100: scenario(100, 'event', { sagasPerSecond: 10, stepsPerSecond: 900 }, { sagasPerSecond: 100, stepsPerSecond: 1000 }) }));
  t.equal(verdict(gs, 'c100 (trigger'), true);
});

t.test('c1 overhead: p50 within 1.5x the reference, p99 under 4 ms', async (t) => {
  const pass = goals(report({ c1: scenario(1, 'event', { stepOverhead: p(1.5, 3.99) }, { stepOverhead: p(1, 2) }) }));
  t.equal(verdict(pass, 'c1: step overhead p50'), true);
  t.equal(verdict(pass, 'c1: step overhead p99'), true);
  const miss = goals(report({ c1: scenario(1, 'event', { stepOverhead: p(1.51, 4) }, { stepOverhead: p(1, 2) }) }));
  t.equal(verdict(miss, 'c1: step overhead p50'), false);
  t.equal(verdict(miss, 'c1: step overhead p99'), false);
});

t.test('memory: sagad peak RSS at c1000 under 200 MB', async (t) => {
  t.equal(verdict(goals(report({ c1000: scenario(1000, 'event', { peakRssMb: 199 }) })), 'c1000: sagad peak RSS'), true);
  t.equal(verdict(goals(report({ c1000: scenario(1000, 'event', { peakRssMb: 200 }) })), 'c1000: sagad peak RSS'), false);
});

t.test('the PostgreSQL floor of 3,200 steps/s at c100 is a goal in PostgreSQL mode only', async (t) => {
  const c100 = (steps: number) => ({ c100: scenario(100, 'event', { stepsPerSecond: steps }, { stepsPerSecond: steps }) });
  t.equal(verdict(goals(report(c100(3200), 'postgres')), 'PostgreSQL, c100'), true);
  t.equal(verdict(goals(report(c100(3199), 'postgres')), 'PostgreSQL, c100'), false);
  t.equal(verdict(goals(report(c100(100), 'sqlite')), 'PostgreSQL, c100'), undefined);
});
