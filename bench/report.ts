import type { EngineLoopResult } from './engine-loop.js';
import type { ListResult } from './list.js';
import type { RestartResult } from './restart.js';
import type { StoreKind } from './targets.js';
import type { ScenarioResult } from './throughput.js';
import type { TimerResult } from './timers.js';

/**
 * One scenario: each target's fastest round, sagad / reference (the grouped loop), the
 * medians over rounds, and every round. `perCommit` is the loop that commits every input
 * alone: context, no ratio is taken against it.
 */
export interface ScenarioReport {
  readonly concurrency: number;
  readonly failEvery: number;
  readonly startVia: 'event' | 'http';
  readonly sagad: ScenarioResult;
  readonly reference: ScenarioResult;
  readonly perCommit?: ScenarioResult;
  readonly ratio: Record<string, number>;
  readonly median: { sagad: ScenarioResult; reference: ScenarioResult; ratio: Record<string, number> };
  readonly rounds: { sagad: ScenarioResult[]; reference: ScenarioResult[]; perCommit?: ScenarioResult[] };
}

export interface Goal {
  readonly goal: string;
  readonly value: string;
  readonly pass: boolean;
}

/** The JSON file under bench/results/. */
export interface BenchReport {
  readonly version: 2;
  readonly date: string;
  readonly sha: string;
  readonly mode: 'full' | 'quick';
  /** Where sagad and the reference loop keep their state: SQLite files, or the bench's own PostgreSQL. */
  readonly store: StoreKind;
  readonly command: string;
  readonly machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; natsServer: string; postgres?: string };
  readonly seconds: number;
  readonly scenarios: Record<string, ScenarioReport>;
  readonly timers?: TimerResult;
  readonly restart?: RestartResult;
  readonly list?: ListResult;
  readonly engine?: EngineLoopResult;
  readonly goals: Goal[];
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

/** sagad / reference for the figures that have a meaningful ratio. */
export function ratios(s: ScenarioResult, r: ScenarioResult): Record<string, number> {
  const q = (a: number, b: number) => (b === 0 ? NaN : a / b);
  return {
    sagasPerSecond: q(s.sagasPerSecond, r.sagasPerSecond), stepsPerSecond: q(s.stepsPerSecond, r.stepsPerSecond), inputsPerSecond: q(s.inputsPerSecond, r.inputsPerSecond),
    latencyP50: q(s.latency.p50, r.latency.p50), latencyP99: q(s.latency.p99, r.latency.p99),
    stepOverheadP50: q(s.stepOverhead.p50, r.stepOverhead.p50), stepOverheadP99: q(s.stepOverhead.p99, r.stepOverhead.p99),
    startOverheadP50: q(s.startOverhead.p50, r.startOverhead.p50), cpuSeconds: q(s.cpuSeconds, r.cpuSeconds),
    cpuMsPerSaga: q(s.cpuMsPerSaga, r.cpuMsPerSaga), peakRssMb: q(s.peakRssMb, r.peakRssMb),
    writeCallsPerSaga: q(s.writeCallsPerSaga, r.writeCallsPerSaga), writeKbPerSaga: q(s.writeKbPerSaga, r.writeKbPerSaga), diskKbPerSaga: q(s.diskKbPerSaga, r.diskKbPerSaga),
  };
}

/** The least share of the grouped reference's steps/s sagad must reach: 70% for trigger starts, 60% for HTTP starts (issue 10). */
export function stepsShareGoal(startVia: 'event' | 'http'): number {
  return startVia === 'http' ? 0.6 : 0.7;
}

/** Issue 9's floor for PostgreSQL mode, one replica, concurrency 100. */
export const POSTGRES_C100_STEPS = 3_200;

/** The goals of issues 10 and 9 (throughput, c1 overhead, memory) and of issue 5 (timers, restart, list), each PASS or MISS with its figure. */
export function goals(rep: Omit<BenchReport, 'goals'>): Goal[] {
  const out: Goal[] = [];
  for (const [name, s] of Object.entries(rep.scenarios)) {
    if (s.concurrency < 100 || s.failEvery > 0) continue;
    const need = stepsShareGoal(s.startVia);
    const share = s.ratio.stepsPerSecond ?? NaN;
    out.push({
      goal: `${name} (${s.startVia === 'http' ? 'HTTP' : 'trigger'} starts): steps/s >= ${f(need * 100, 0)}% of the grouped reference`,
      value: `${f(s.sagad.stepsPerSecond, 0)} vs ${f(s.reference.stepsPerSecond, 0)} steps/s = ${f(share * 100, 0)}% (median of the rounds ${f((s.median.ratio.stepsPerSecond ?? NaN) * 100, 0)}%)`,
      pass: share >= need,
    });
  }
  const c1 = rep.scenarios.c1;
  if (c1 !== undefined) {
    const x = c1.ratio.stepOverheadP50 ?? NaN;
    out.push({ goal: 'c1: step overhead p50 within 1.5x the reference', value: `${f(c1.sagad.stepOverhead.p50, 2)} vs ${f(c1.reference.stepOverhead.p50, 2)} ms = ${f(x, 2)}x`, pass: x <= 1.5 });
    out.push({ goal: 'c1: step overhead p99 < 4 ms', value: `${f(c1.sagad.stepOverhead.p99, 2)} ms`, pass: c1.sagad.stepOverhead.p99 < 4 });
  }
  const c1000 = rep.scenarios.c1000;
  if (c1000 !== undefined) {
    out.push({ goal: 'c1000: sagad peak RSS < 200 MB', value: `${f(c1000.sagad.peakRssMb, 0)} MB (sampled ${f(c1000.sagad.sampledRssMb, 0)} MB; reference ${f(c1000.reference.peakRssMb, 0)} MB)`, pass: c1000.sagad.peakRssMb < 200 });
  }
  const c100 = rep.scenarios.c100;
  if (rep.store === 'postgres' && c100 !== undefined) {
    out.push({ goal: `PostgreSQL, c100: >= ${POSTGRES_C100_STEPS} steps/s (issue 9)`, value: `${f(c100.sagad.stepsPerSecond, 0)} steps/s`, pass: c100.sagad.stepsPerSecond >= POSTGRES_C100_STEPS });
  }
  const t = rep.timers;
  if (t !== undefined) {
    out.push({ goal: `${t.instances} timers: lag p99 < 50 ms (issue 5)`, value: `p99 ${f(t.lagP99Ms, 0)} ms (p50 ${f(t.lagP50Ms, 0)}, max ${f(t.lagMaxMs, 0)}; ${t.fired} fired)`, pass: t.lagP99Ms < 50 && t.fired >= t.created });
    out.push({ goal: `${t.instances} timers: sagad RSS < 300 MB (issue 5)`, value: `peak ${f(t.peakRssMb, 0)} MB (all pending: ${f(t.rssPendingMb, 0)} MB)`, pass: t.peakRssMb < 300 });
  }
  const r = rep.restart;
  if (r !== undefined) out.push({ goal: `${r.inFlight} in flight: ready within 2 s (issue 5)`, value: `ready ${f(r.readySeconds, 2)} s, first step ${f(r.firstStepSeconds, 2)} s`, pass: r.readySeconds <= 2 });
  const l = rep.list;
  if (l !== undefined) out.push({ goal: `${l.instances} finished: filtered list p99 < 20 ms (issue 5)`, value: `p99 ${f(l.all.p99, 1)} ms (p50 ${f(l.all.p50, 1)}, max ${f(l.all.max, 1)})`, pass: l.all.p99 < 20 });
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

/** The report as text for people. */
export function formatReport(rep: BenchReport): string {
  const m = rep.machine;
  const db = rep.store === 'postgres' ? `PostgreSQL ${m.postgres ?? ''} (fsync=on, synchronous_commit=on)` : 'SQLite (WAL, synchronous=FULL)';
  const out = [`sagad bench ${rep.mode} · ${rep.date} · ${rep.sha} · ${db} · ${m.cpus} x ${m.cpuModel}, ${m.memoryGb} GB · Node ${m.node} · nats-server ${m.natsServer} · ${f(rep.seconds, 0)} s`, ''];
  const speed = [['scenario', 'target', 'sagas/s', 'steps/s', 'inputs/s', 'e2e p50', 'e2e p99', 'step p50', 'step p99', 'start p50', 'HTTP 201 p50']];
  const cost = [['scenario', 'target', 'CPU s', 'CPU ms/saga', 'peak RSS MB', 'writes/saga', 'write KB/saga', 'disk KB/saga', 'nats CPU s', ...(rep.store === 'postgres' ? ['db CPU s'] : []), 'fsync p50 ms', 'others CPU s']];
  const warnings: string[] = [];
  const spread: string[] = ['Every round (steps/s, others CPU s) and the ratio of the medians:'];
  for (const [name, s] of Object.entries(rep.scenarios)) {
    const each = (rs: readonly ScenarioResult[] | undefined) => (rs ?? []).map((x) => `${f(x.stepsPerSecond, 0)} (${f(x.othersCpuSeconds, 1)})`).join(', ');
    spread.push(`  ${name}: sagad ${each(s.rounds.sagad)}; grouped ${each(s.rounds.reference)}; per-commit ${each(s.rounds.perCommit)}; median ratio ${f(s.median.ratio.stepsPerSecond ?? NaN, 2)}x`);
    const targets: [string, ScenarioResult | undefined][] = [['sagad', s.sagad], ['reference', s.reference], ['per-commit (context)', s.perCommit]];
    let first = true;
    for (const [target, x] of targets) {
      if (x === undefined) continue;
      const label = first ? name : '';
      first = false;
      speed.push([label, target, f(x.sagasPerSecond), f(x.stepsPerSecond, 0), f(x.inputsPerSecond, 0), f(x.latency.p50, 1), f(x.latency.p99, 1), f(x.stepOverhead.p50, 2), f(x.stepOverhead.p99, 2),
        f(x.startOverhead.p50, 2), x.startResponse.count > 0 ? f(x.startResponse.p50, 2) : '']);
      cost.push([label, target, f(x.cpuSeconds, 2), f(x.cpuMsPerSaga, 2), f(x.peakRssMb, 0), f(x.writeCallsPerSaga, 0), f(x.writeKbPerSaga, 0), f(x.diskKbPerSaga, 0),
        f(x.natsCpuSeconds, 2), ...(rep.store === 'postgres' ? [f(x.dbCpuSeconds, 2)] : []), f(x.fsyncMs.p50, 2), f(x.othersCpuSeconds, 1)]);
      const bad = x.wrongOutcome + x.unfinished + x.publishErrors;
      if (bad > 0) warnings.push(`! ${name} ${target}: ${x.wrongOutcome} wrong outcomes, ${x.unfinished} unfinished, ${x.publishErrors} publish or start errors`);
    }
    const r = s.ratio;
    const x = (k: string, d = 1) => `${f(r[k] ?? NaN, d)}x`;
    speed.push(['', 'sagad/reference', x('sagasPerSecond', 2), x('stepsPerSecond', 2), x('inputsPerSecond', 2), x('latencyP50'), x('latencyP99'), x('stepOverheadP50'), x('stepOverheadP99'), x('startOverheadP50'), '']);
    cost.push(['', 'sagad/reference', x('cpuSeconds'), x('cpuMsPerSaga'), x('peakRssMb'), x('writeCallsPerSaga'), x('writeKbPerSaga'), x('diskKbPerSaga'), '', ...(rep.store === 'postgres' ? [''] : []), '', '']);
  }
  if (speed.length > 1) {
    out.push('Throughput and latency (each target\'s fastest round; ms; closed loop; reference = the loop with grouped commits, the ratios\' base; per-commit = the loop committing every input alone, context;',
      '  steps = commands received by the participants, inputs = starts and replies sent to the target; -http scenarios start by POST /v1/sagas/order-fulfillment/instances, the others by the trigger event;',
      '  step = reply published -> next command received, start = start sent -> first command, both in the participant process):',
      table(speed), ...spread, '', 'Cost (in the window; writes = write calls, write KB = bytes written to files and sockets, disk KB = bytes sent to storage, all from /proc/<pid>/io'
        + `${rep.store === 'postgres' ? '; the PostgreSQL server\'s CPU is in db CPU s, not in the target\'s' : ''}):`,
      table(cost), ...warnings, '');
  }
  const c1000 = rep.scenarios.c1000;
  if (c1000 !== undefined || rep.timers !== undefined) {
    const parts: string[] = [];
    if (c1000 !== undefined) parts.push(`c1000 sagad ${f(c1000.sagad.peakRssMb, 0)} MB (largest 50 ms sample ${f(c1000.sagad.sampledRssMb, 0)} MB), reference ${f(c1000.reference.peakRssMb, 0)} MB`);
    if (rep.timers !== undefined) parts.push(`${rep.timers.instances} timers sagad ${f(rep.timers.peakRssMb, 0)} MB (${f(rep.timers.rssPendingMb, 0)} MB with all pending)`);
    out.push(`Memory (peak RSS: VmHWM, the kernel's high-water mark of the whole process, sagad's background thread included${rep.store === 'postgres' ? '; the PostgreSQL server not included' : ''}): ${parts.join('; ')}`, '');
  }
  const t = rep.timers;
  if (t !== undefined) {
    out.push(`Timers: ${t.created} instances started over ${f(t.createSeconds, 1)} s, each timer due ${f(t.timeoutSeconds, 0)} s after its start; ${t.fired} fired.`,
      `  lag p50 ${f(t.lagP50Ms, 0)} ms, p99 ${f(t.lagP99Ms, 0)} ms, max ${f(t.lagMaxMs, 0)} ms, mean ${f(t.lagMeanMs, 1)} ms (sagad /metrics, ${t.scrapes} scrapes, slowest ${f(t.scrapeMaxMs, 0)} ms)`,
      `  from lifecycle events, all ${t.eventLag.count}: p50 ${f(t.eventLag.p50, 0)} ms, p99 ${f(t.eventLag.p99, 0)} ms, max ${f(t.eventLag.max, 0)} ms`,
      `  RSS with all pending ${f(t.rssPendingMb, 0)} MB, peak ${f(t.peakRssMb, 0)} MB; CPU while firing ${f(t.fireCpuSeconds, 1)} s`, '');
  }
  const r = rep.restart;
  if (r !== undefined) {
    out.push(`Restart with ${r.inFlight} in flight (SIGTERM, replies queued while down): ready ${f(r.readySeconds, 2)} s (empty database: ${f(r.emptyReadySeconds, 2)} s), first resumed step ${f(r.firstStepSeconds, 2)} s,`,
      `  all ${r.resumed} resumed ${f(r.allStepsSeconds, 2)} s after spawn; stop took ${f(r.stopSeconds, 2)} s; RSS ${f(r.rssMb, 0)} MB`, '');
  }
  const l = rep.list;
  if (l !== undefined) {
    out.push(`List over ${l.instances} finished instances (${f(l.dbMb, 0)} MB file, generated in ${f(l.generateSeconds, 0)} s; sagad ready in ${f(l.sagadReadyMs / 1000, 2)} s):`);
    const lr = [['query', 'n', 'p50', 'p99', 'max']];
    for (const [q, p] of Object.entries(l.byQuery)) lr.push([q, String(p.count), f(p.p50, 2), f(p.p99, 2), f(p.max, 2)]);
    lr.push(['all', String(l.all.count), f(l.all.p50, 2), f(l.all.p99, 2), f(l.all.max, 2)]);
    out.push(table(lr).replace(/^/gm, '  '), '');
  }
  const e = rep.engine;
  if (e !== undefined) {
    out.push(`Engine alone (in-process, no NATS, ${e.sagas} sagas at concurrency ${e.concurrency}, cheapest of ${e.rounds} rounds): `
      + `${f(e.cpuMsPerSaga, 3)} CPU ms/saga, ${f(e.sagasPerSecond, 0)} sagas/s (rounds: ${e.cpuMsPerSagaEachRound.map((x) => f(x, 3)).join(', ')} ms)`, '');
  }
  out.push(`Goals (issues 10, 9 and 5)${rep.mode === 'quick' ? ' - quick mode: smaller scale, indicative only' : ''}:`);
  for (const g of rep.goals) out.push(`  ${g.pass ? 'PASS' : 'MISS'}  ${g.goal}: ${g.value}`);
  return out.join('\n');
}

/** Every numeric leaf of a report by its path, leaving out the raw rounds. */
function leaves(x: unknown, path = '', out = new Map<string, number>()): Map<string, number> {
  if (typeof x === 'number') out.set(path, x);
  else if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
    for (const [k, v] of Object.entries(x)) if (k !== 'rounds' && k !== 'machine' && k !== 'median') leaves(v, path === '' ? k : `${path}.${k}`, out);
  }
  return out;
}

/** The figures `--compare` shows: the headline of each part, not every count and mean. */
const HEADLINE = new RegExp([
  String.raw`^scenarios\.[^.]+\.(sagad|reference|perCommit)\.(sagasPerSecond|stepsPerSecond|inputsPerSecond|dbCpuSeconds|sampledRssMb|latency\.p(50|99)|stepOverhead\.p(50|99)|startOverhead\.p50|cpuSeconds|cpuMsPerSaga|peakRssMb|writeCallsPerSaga|writeKbPerSaga|diskKbPerSaga|fsyncMs\.p50|othersCpuSeconds)$`,
  String.raw`^scenarios\.[^.]+\.ratio\.`,
  String.raw`^timers\.(createSeconds|lag\w+|eventLag\.(p50|p99|max)|rssPendingMb|peakRssMb|fireCpuSeconds)$`,
  String.raw`^restart\.(\w+Seconds|rssMb)$`,
  String.raw`^list\.(generateSeconds|sagadReadyMs|all\.(p50|p99|max)|byQuery\..+\.p99)$`,
  String.raw`^engine\.(sagasPerSecond|cpuMsPerSaga)$`,
  String.raw`^seconds$`,
].join('|'));

/** `--compare A B`: each headline figure in A and B and the change from A to B. */
export function formatCompare(a: BenchReport, b: BenchReport): string {
  const la = leaves(a);
  const lb = leaves(b);
  const rows = [['figure', `A ${a.sha}`, `B ${b.sha}`, 'change']];
  for (const [k, va] of la) {
    const vb = lb.get(k);
    if (vb === undefined || !HEADLINE.test(k)) continue;
    const change = va === 0 ? (vb === 0 ? '0%' : 'new') : `${vb >= va ? '+' : ''}${f(((vb - va) / Math.abs(va)) * 100, 1)}%`;
    rows.push([k, f(va, 2), f(vb, 2), change]);
  }
  const goalRows = b.goals.map((g) => {
    const before = a.goals.find((x) => x.goal === g.goal);
    return `  ${before === undefined ? '    ' : before.pass ? 'PASS' : 'MISS'} -> ${g.pass ? 'PASS' : 'MISS'}  ${g.goal}: ${g.value}`;
  });
  return [`A: ${a.date} ${a.sha} (${a.mode})`, `B: ${b.date} ${b.sha} (${b.mode})`, '', table(rows), '', 'Goals (A -> B):', ...goalRows].join('\n');
}
