/**
 * The generated scenarios of a saga: the happy path, then every way one step or one
 * compensation can go wrong, cancels before the pivot, failing parallel branches, and each
 * `when` both ways. Steps that retry until they succeed get "fails N times, then succeeds",
 * since "until the attempts run out" never comes for them. A forEach step's elements are
 * steps of their own here (`reserve[1] fails`), as many as the happy path iterates.
 */
import type { ChildSagaStep, CommandStep, CompiledSaga, LeafStep, ParallelGroup } from '../core/index.js';
import { leafSteps } from '../core/index.js';
import { elementScenarios, expandElements } from './for-each-scenarios.js';
import type { Samples } from './samples.js';
import { emptyScript, type ReplyKind, type Script, type ScriptedReply } from './script.js';
import { whenCases } from './when-inputs.js';

/** What a scenario exercises, stable for machines. */
export const ScenarioKind = {
  happy: 'happy',
  fail: 'fail',
  timeout: 'timeout',
  retryable: 'retryable',
  late: 'late',
  compensationFails: 'compensation-fails',
  cancel: 'cancel',
  branchFails: 'branch-fails',
  elementFails: 'element-fails',
  when: 'when',
} as const;
export type ScenarioKind = (typeof ScenarioKind)[keyof typeof ScenarioKind];

/** One scenario: a script, and an input when it differs from the saga's sample. */
export interface Scenario {
  readonly name: string;
  readonly kind: ScenarioKind;
  readonly script: Script;
  readonly input?: unknown;
}

/** How many times a step that retries until it succeeds fails before it does, in generated scenarios. */
export const UNLIMITED_FAILURES = 3;

const times = (kind: ReplyKind, n: number, delay: number | null = null): ScriptedReply[] => Array.from({ length: n }, () => ({ kind, delay }));
const ok: ScriptedReply = { kind: 'ok', delay: null };
export const doScript = (step: string, replies: ScriptedReply[]): Script => ({ ...emptyScript, do: { [step]: replies } });

function attempts(l: CommandStep): string {
  return `${l.retry.maxAttempts} attempt${l.retry.maxAttempts === 1 ? '' : 's'}`;
}

export function commandScenarios(l: CommandStep): Scenario[] {
  const out: Scenario[] = [];
  const n = l.retry.maxAttempts;
  if (l.reply.failure.length > 0) out.push({ name: `${l.name} fails`, kind: 'fail', script: doScript(l.name, [{ kind: 'fail', delay: null }]) });
  out.push(n === null
    ? { name: `${l.name} times out ${UNLIMITED_FAILURES} times, then succeeds`, kind: 'timeout', script: doScript(l.name, [...times('timeout', UNLIMITED_FAILURES), ok]) }
    : { name: `${l.name} times out on all ${attempts(l)}`, kind: 'timeout', script: doScript(l.name, [{ kind: 'timeout', delay: null }]) });
  if (l.reply.retryable.length > 0) {
    out.push(n === null
      ? { name: `${l.name} answers retryable ${UNLIMITED_FAILURES} times, then succeeds`, kind: 'retryable', script: doScript(l.name, [...times('retryable', UNLIMITED_FAILURES), ok]) }
      : { name: `${l.name} answers retryable until its ${attempts(l)} run out`, kind: 'retryable', script: doScript(l.name, [{ kind: 'retryable', delay: null }]) });
  }
  if (n !== null) out.push({ name: `${l.name} succeeds late, after it was given up`, kind: 'late', script: doScript(l.name, [...times('timeout', n - 1), { kind: 'late', delay: null }]) });
  return out;
}

/** The reply that makes a step fail for good, or null when it cannot (it retries until it succeeds and waits for ever). */
export function failing(l: LeafStep, saga: CompiledSaga): ScriptedReply | null {
  if (l.kind === 'command') {
    if (l.reply.failure.length > 0) return { kind: 'fail', delay: null };
    return l.retry.maxAttempts === null ? null : { kind: 'timeout', delay: null };
  }
  if (l.kind === 'delay') return null;
  return l.timeout !== null || saga.timeout !== null ? { kind: 'timeout', delay: null } : null;
}

/** A child saga's end is its step's reply: the child compensated (it failed), or never ending within the step's timeout. */
function childScenarios(l: ChildSagaStep): Scenario[] {
  const out: Scenario[] = [{ name: `${l.name}: the child saga ${l.saga} fails and is compensated`, kind: 'fail', script: doScript(l.name, [{ kind: 'fail', delay: null }]) }];
  if (l.timeout !== null) out.push({ name: `${l.name}: the child saga ${l.saga} does not end in time and is cancelled`, kind: 'timeout', script: doScript(l.name, [{ kind: 'timeout', delay: null }]) });
  return out;
}

function compensationScenarios(saga: CompiledSaga, leaves: readonly LeafStep[]): Scenario[] {
  const out: Scenario[] = [];
  for (const [i, l] of leaves.entries()) {
    if (l.compensate === null || l.afterPivot) continue;
    // Something after the step must fail for it to be compensated; failing nothing later, it fails itself (timed out: unknown outcome).
    let trigger: { step: string; reply: ScriptedReply } | null = null;
    for (const later of leaves.slice(i + 1)) {
      const r = failing(later, saga);
      if (r !== null) {
        trigger = { step: later.name, reply: r };
        break;
      }
    }
    if (trigger === null && l.kind === 'command' && l.retry.maxAttempts !== null) trigger = { step: l.name, reply: { kind: 'timeout', delay: null } };
    if (trigger === null) continue;
    const n = l.compensate.retry.maxAttempts;
    const undo = n === null ? [...times('fail', UNLIMITED_FAILURES), ok] : [{ kind: 'fail', delay: null } as ScriptedReply];
    const name = n === null
      ? `the compensation of ${l.name} fails ${UNLIMITED_FAILURES} times, then succeeds (${trigger.step} ${trigger.reply.kind === 'fail' ? 'fails' : 'times out'})`
      : `the compensation of ${l.name} fails until its ${n} attempt${n === 1 ? '' : 's'} run out (${trigger.step} ${trigger.reply.kind === 'fail' ? 'fails' : 'times out'})`;
    out.push({ name, kind: 'compensation-fails', script: { do: { [trigger.step]: [trigger.reply] }, undo: { [l.name]: undo }, cancel: null } });
  }
  return out;
}

function cancelScenarios(leaves: readonly LeafStep[]): Scenario[] {
  const out: Scenario[] = [];
  for (const l of leaves) {
    const pivot = l.kind === 'command' && l.pivot;
    if (l.afterPivot && !pivot) continue;
    const what = l.kind === 'wait' ? 'its event' : l.kind === 'delay' ? 'its time' : l.kind === 'saga' ? `its child saga ${l.saga}` : 'its reply';
    out.push({
      name: pivot ? `cancel while the pivot ${l.name} awaits its reply (refused)` : l.kind === 'delay' ? `cancel during the delay ${l.name}` : `cancel while ${l.name} awaits ${what}`,
      kind: 'cancel', script: { ...emptyScript, cancel: { step: l.name } },
    });
  }
  return out;
}

function branchScenarios(saga: CompiledSaga, group: ParallelGroup): Scenario[] {
  const out: Scenario[] = [];
  if (group.branches.length < 2) return out;
  for (const [b, branch] of group.branches.entries()) {
    const first = branch[0];
    const r = first === undefined ? null : failing(first, saga);
    if (first === undefined || r === null) continue;
    const others = group.branches.filter((_, j) => j !== b).flat();
    const label = `branch ${b + 1} of ${group.name} (${first.name})`;
    if (r.kind === 'timeout') {
      out.push({ name: `${label} times out while the others succeed`, kind: 'branch-fails', script: doScript(first.name, [r]) });
      continue;
    }
    out.push({ name: `${label} fails while the others are in flight`, kind: 'branch-fails', script: doScript(first.name, [{ kind: 'fail', delay: 1 }]) });
    const fast = Object.fromEntries(others.map((o) => [o.name, [{ kind: 'ok', delay: 1 } as ScriptedReply]]));
    out.push({ name: `${label} fails after the others succeeded`, kind: 'branch-fails', script: { ...emptyScript, do: { ...fast, [first.name]: [{ kind: 'fail', delay: null }] } } });
  }
  return out;
}

/** Pure: every generated scenario of a saga, and notes on what could not be generated. */
export function generateScenarios(saga: CompiledSaga, samples: Samples): { scenarios: Scenario[]; notes: string[] } {
  const { leaves, counts, notes: elementNotes } = expandElements(saga, samples, leafSteps(saga));
  const scenarios: Scenario[] = [{ name: 'all succeed', kind: 'happy', script: emptyScript }];
  for (const l of leaves) {
    if (l.kind === 'command') scenarios.push(...commandScenarios(l));
    else if (l.kind === 'saga') scenarios.push(...childScenarios(l));
    else if (l.kind === 'wait' && (l.timeout !== null || saga.timeout !== null)) scenarios.push({ name: `${l.name} never receives its event`, kind: 'timeout', script: doScript(l.name, [{ kind: 'timeout', delay: null }]) });
  }
  scenarios.push(...compensationScenarios(saga, leaves), ...cancelScenarios(leaves));
  for (const stage of saga.stages) if (stage.kind === 'parallel') scenarios.push(...branchScenarios(saga, stage));
  for (const stage of saga.stages) if (stage.kind === 'forEach') scenarios.push(...elementScenarios(saga, stage, counts.get(stage.name) ?? 0));
  const when = whenCases(saga, samples);
  // A step whose `when` is false on the sample input would be skipped: its scenarios run with the input that makes it true.
  const enabling = new Map<string, unknown>();
  for (const c of when.cases) {
    if (!c.value || c.change === null) continue;
    const group = saga.stages.find((st) => st.kind === 'parallel' && st.name === c.step);
    for (const name of group?.kind === 'parallel' ? group.branches.flat().map((l) => l.name) : [c.step]) enabling.set(name, c.input);
  }
  const withInput = scenarios.map((sc) => {
    const targets = [...Object.keys(sc.script.do), ...Object.keys(sc.script.undo), ...(sc.script.cancel !== null && 'step' in sc.script.cancel ? [sc.script.cancel.step] : [])];
    // A forEach element (or a group's step of one) is enabled by its stage's `when`.
    const stageOf = (n: string): string => n.replace(/\[\d+\](\.[a-z][a-z0-9-]*)?$/, '').replace(/\.[a-z][a-z0-9-]*$/, '');
    const key = (n: string): string => (enabling.has(n) ? n : stageOf(n));
    const t = targets.find((n) => enabling.has(key(n)));
    return t === undefined || sc.kind === 'branch-fails' ? sc : { ...sc, input: enabling.get(key(t)) };
  });
  for (const c of when.cases) {
    withInput.push({ name: `when of ${c.step} is ${c.value}${c.change === null ? '' : ` (${c.change})`}`, kind: 'when', script: emptyScript, input: c.input });
  }
  return { scenarios: withInput, notes: [...elementNotes, ...when.notes] };
}
