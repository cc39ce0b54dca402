/** What `sagactl test` and `sagactl simulate` print: scenarios with their outcome and effects, and violations with their trace. */
import type { HistoryEntryDocument } from '../../engine/api/views.js';
import { eventVersion, type SagaEvent } from '../../engine/core/index.js';
import type { CaseResult, SagaReport, ScenarioResult } from '../../engine/testing/index.js';
import { traceLines } from '../../engine/testing/index.js';
import { shown } from '../render/escape.js';
import type { Style } from '../render/style.js';

const NAME_WIDTH = 64;

/**
 * Pure: the lines of one scenario: verdict, name, outcome; its effects; then notes, warnings and
 * violations. Names and messages quote the files (a case's name, an expression): escaped.
 */
export function scenarioText(r: ScenarioResult, style: Style, label = r.name, expected: readonly string[] = []): string {
  const verdict = r.ok && expected.length === 0 ? style.green('ok  ') : style.red('FAIL');
  const lines = [`  ${verdict}  ${shown(label).padEnd(NAME_WIDTH)}  ${style.state(r.outcome)}`];
  lines.push(`        ${r.effects.length === 0 ? '(no effects)' : r.effects.join(' · ')}`);
  for (const m of expected) lines.push(`        ${style.red('expected:')} ${shown(m)}`);
  for (const n of r.notes) lines.push(`        ${style.yellow('note:')} ${shown(n)}`);
  for (const w of r.guarantee.warnings) lines.push(`        ${style.yellow('warning:')} ${shown(w)}`);
  for (const v of r.guarantee.violations) lines.push(`        ${style.red(`violation (${v.rule}):`)} ${shown(v.message)}`);
  if (!r.ok) {
    lines.push(`        input: ${JSON.stringify(r.input)}`, '        trace:');
    const marks = new Set(r.guarantee.violations.map((v) => v.at));
    traceLines(r.trace).forEach((l, i) => lines.push(`        ${marks.has(i) ? style.red('>') : ' '} ${shown(l)}`));
  }
  return `${lines.join('\n')}\n`;
}

const origins: Record<SagaReport['inputOrigin'], string> = {
  given: 'the given input',
  schema: 'a sample input from the trigger schema',
  expressions: 'a sample input built from what the expressions read',
  'schema and expressions': 'a sample input from the trigger schema and what the expressions read',
};

/** Pure: a saga's report: its input, each scenario, its notes and a summary line. */
export function sagaReportText(r: SagaReport, style: Style): string {
  const head = `${style.bold(r.saga)}: ${r.scenarios.length} scenarios with ${origins[r.inputOrigin]}:\n  ${JSON.stringify(r.input)}\n`;
  const body = r.scenarios.map((s) => scenarioText(s, style)).join('');
  const notes = r.notes.map((n) => `  ${style.yellow('note:')} ${shown(n)}\n`).join('');
  const broken = r.scenarios.filter((s) => !s.ok).length;
  const summary = broken === 0
    ? `${r.saga}: the saga guarantee held in all ${r.scenarios.length} scenarios\n`
    : style.red(`${r.saga}: the saga guarantee broke in ${broken} of ${r.scenarios.length} scenarios\n`);
  return `${head}${body}${notes}${summary}\n`;
}

/** Pure: a case's lines: the scenario lines and what differed from the expectation. */
export function caseText(c: CaseResult, style: Style): string {
  const label = `${c.case.name} (${c.case.file}:${c.case.line})`;
  return scenarioText(c.result, style, label, c.mismatches);
}

/** Pure: a scenario as the JSON documents of `-o json` and `-o jsonl` show it; the trace only when the guarantee broke. */
export function scenarioDocument(saga: string, r: ScenarioResult): Record<string, unknown> {
  return {
    saga, name: r.name, kind: r.kind, ok: r.ok, outcome: r.outcome, effects: r.effects, notes: r.notes,
    violations: r.guarantee.violations, warnings: r.guarantee.warnings,
    ...(r.ok ? {} : { input: r.input, trace: r.trace }),
  };
}

/** Pure: journal events of a simulated run as history entries; simulated time 0 is the epoch. */
export function simulatedHistory(journal: readonly SagaEvent[]): HistoryEntryDocument[] {
  return journal.map((e, i) => ({ seq: i + 1, type: e.type, version: eventVersion[e.type], at: new Date(e.at).toISOString(), data: e }));
}
