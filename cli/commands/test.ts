import type { Command } from 'commander';
import type { CompiledSaga } from '../../engine/core/index.js';
import { formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import { loadCases, runCase, testSaga, type CaseResult, type SagaReport } from '../../engine/testing/index.js';
import { contextOf } from '../context.js';
import { CliError, usageError } from '../errors.js';
import { ExitCode, shown, type Io } from '../io.js';
import { examples } from '../options.js';
import { caseText, sagaReportText, scenarioDocument } from '../views/test-report.js';
import { parseInput } from './act.js';

/**
 * Loads a definitions file for test or simulate: the sagas, or null after printing every error.
 * A file without a saga is an error (exit 1): a check that ran nothing must not pass.
 */
export function loadForTest(file: string, io: Io): CompiledSaga[] | null {
  const r = loadDefinitionsFile(file, { pipe: true });
  if (r.ok && r.sagas.length === 0) {
    throw new CliError(`${file} defines no saga, so there is nothing to run`,
      'list the sagas under `sagas:` (or `include:` the files that have them); `sagactl validate` reads the file the same way');
  }
  if (r.ok) return r.sagas;
  for (const e of r.errors) io.err(`${shown(formatDefinitionError(e))}\n`);
  io.err(`${file} is not valid; fix it first (sagactl validate ${file} lists the same errors)\n`);
  return null;
}

/** The sagas `--saga` names (all when absent); an unknown name is a usage error. */
export function pickSagas(sagas: readonly CompiledSaga[], name: string | undefined, file: string): CompiledSaga[] {
  if (name === undefined) return [...sagas];
  const found = sagas.filter((s) => s.name === name);
  if (found.length === 0) throw usageError(`${file} has no saga ${name}`, `its sagas are ${sagas.map((s) => s.name).join(', ') || 'none'}`);
  return found;
}

interface TestOptions { saga?: string; input?: string; cases?: string }

/** `test FILE`: every saga through its generated scenarios (and the author's cases), offline, checking the saga guarantee. */
export function registerTest(parent: Command, io: Io, result: { code: ExitCode }): void {
  parent
    .command('test')
    .description('Run every saga of a definitions file offline through generated failure scenarios and check the saga guarantee.')
    .argument('<file>', 'definitions file (with its includes)')
    .option('--saga <name>', 'only this saga')
    .option('-i, --input <json>', 'the saga input: JSON, or @FILE; default a sample from the trigger schema and the expressions')
    .option('--cases <file>', 'also run the cases of this YAML file (input, scripted replies, expected outcome and effects)')
    .addHelpText('after', `${examples(
      'sagactl test saga-definitions.yaml',
      'sagactl test sagas/trip-booking.yaml --input @trip.json',
      'sagactl test saga-definitions.yaml --saga order-fulfillment --cases order-cases.yaml',
      'sagactl test saga-definitions.yaml -o json | jq \'.sagas[].scenarios[] | select(.ok | not)\'',
    )}
No NATS, no database, no real time: each scenario runs the engine's own decision core
against simulated participants on a simulated clock. The scenarios: all succeed; each step
fails, times out on every attempt, answers retryable until its attempts run out, succeeds
late after it was given up; each compensation fails until its attempts run out; a cancel
while each step before the pivot is in flight; each parallel branch failing; each \`when\`
both ways. Steps that retry until they succeed fail 3 times, then succeed. A forEach step's
elements (STEP[0], STEP[1], ...) each get the scenarios of a step, and, when they run at
once, each failing while the others are in flight; so do the steps of a forEach group's
elements (GROUP[0].STEP, ...), whose \`when\` is turned for the first element (docs/step-kinds.md).

Each scenario prints its outcome and its effects (\`do STEP#ATTEMPT RESULT\`, \`undo ...\`),
and is checked against the saga guarantee: every step that may have taken effect is
compensated, once, in reverse order of completion; nothing at or after the pivot is
compensated; nothing that never started is compensated. A violation prints its trace.

A cases file:
  cases:
    - name: the card is declined
      saga: order-fulfillment
      input: { orderId: o-1, customerId: c-1, items: [{ sku: a, quantity: 1 }], total: 10 }
      replies: { charge-payment: fail, reserve-inventory: [retryable, ok:2s] }
      undo: { reserve-inventory: [timeout, ok] }
      expect:
        outcome: compensated
        effects: [do reserve-inventory retryable, do reserve-inventory#2 ok, do charge-payment fail,
                  undo reserve-inventory timeout, undo reserve-inventory#2 ok]
  (replies as in sagactl simulate --script; cancel: STEP or DURATION; docs/testing.md has more)

Exit code 0 when the guarantee held everywhere and every case passed, 1 otherwise
(or when a file is invalid), 2 for a usage error.`)
    .action((file: string, o: TestOptions, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const input = o.input === undefined ? undefined : parseInput(o.input);
      const all = loadForTest(file, io);
      if (all === null) {
        result.code = ExitCode.error;
        return;
      }
      const sagas = pickSagas(all, o.saga, file);
      let cases: CaseResult[] = [];
      if (o.cases !== undefined) {
        const loaded = loadCases(o.cases, Object.fromEntries(all.map((s) => [s.name, s])));
        if (!loaded.ok) {
          for (const e of loaded.errors) io.err(`${shown(formatDefinitionError(e))}\n`);
          io.err(`${o.cases}: ${loaded.errors.length} problem${loaded.errors.length === 1 ? '' : 's'}; no case ran\n`);
          result.code = ExitCode.error;
          return;
        }
        const wanted = new Set(sagas.map((s) => s.name));
        cases = loaded.cases.filter((c) => wanted.has(c.saga)).map((c) => runCase(sagas.find((s) => s.name === c.saga) as CompiledSaga, c));
      }
      const reports: SagaReport[] = sagas.map((s) => testSaga(s, input === undefined ? {} : { input }));
      const ok = reports.every((r) => r.ok) && cases.every((c) => c.ok);
      if (!ok) result.code = ExitCode.error;
      if (ctx.output === 'json') {
        return ctx.doc({
          ok,
          sagas: reports.map((r) => ({ saga: r.saga, ok: r.ok, input: r.input, inputOrigin: r.inputOrigin, notes: r.notes, scenarios: r.scenarios.map((s) => scenarioDocument(r.saga, s)) })),
          cases: cases.map((c) => ({ ...scenarioDocument(c.case.saga, c.result), ok: c.ok, file: c.case.file, line: c.case.line, mismatches: c.mismatches })),
        });
      }
      if (ctx.output === 'jsonl') {
        for (const r of reports) for (const s of r.scenarios) ctx.doc(scenarioDocument(r.saga, s));
        for (const c of cases) ctx.doc({ ...scenarioDocument(c.case.saga, c.result), ok: c.ok, file: c.case.file, line: c.case.line, mismatches: c.mismatches });
        return;
      }
      for (const r of reports) ctx.out(sagaReportText(r, ctx.style));
      if (o.cases !== undefined) {
        ctx.out(`${ctx.style.bold('cases')} of ${o.cases}:\n${cases.map((c) => caseText(c, ctx.style)).join('')}`);
        if (cases.length === 0) ctx.out('  (none for these sagas)\n');
        ctx.out('\n');
      }
      const scenarios = reports.reduce((n, r) => n + r.scenarios.length, 0);
      const broken = reports.reduce((n, r) => n + r.scenarios.filter((s) => !s.ok).length, 0);
      const failedCases = cases.filter((c) => !c.ok).length;
      const parts = [`${reports.length} saga${reports.length === 1 ? '' : 's'}`, `${scenarios} scenarios`, broken === 0 ? 'no violation' : `${broken} violating the saga guarantee`];
      if (o.cases !== undefined) parts.push(`${cases.length - failedCases} of ${cases.length} cases passed`);
      ctx.out(`${ok ? ctx.style.green('PASS') : ctx.style.red('FAIL')} ${parts.join(', ')}\n`);
    });
}
