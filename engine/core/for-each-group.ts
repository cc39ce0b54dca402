import type { CommandStep, ForEachGroupStage } from './definition.js';
import { groupElementNames } from './for-each.js';
import { dispatch, failStep } from './forward.js';
import { emit, stepOf, type Run } from './run.js';
import { evaluate, scopeFor, truthy } from './template.js';

/**
 * The forward path of a started `forEach` group: each element runs the group's steps in
 * order (element `i`'s step `s` is the step `stage[i].s`), elements start in index order and
 * at most `maxConcurrency` are in flight; the stage succeeds, with one object per element
 * (`{s: result, ...}`, in element order), once every element's steps succeeded or were
 * skipped. A step failing for good fails the saga as any step does (`failStep`).
 */

const settled = (status: string) => status === 'succeeded' || status === 'skipped';

type ElementState = 'pending' | 'active' | 'settled';

function elementState(run: Run, names: readonly string[]): ElementState {
  const statuses = names.map((n) => stepOf(run, n).status);
  if (statuses.every(settled)) return 'settled';
  return statuses.every((s) => s === 'pending') ? 'pending' : 'active';
}

/** Moves every element on that may move; true when every element has settled and the stage succeeded. */
export function advanceGroup(run: Run, stage: ForEachGroupStage): boolean {
  const count = stepOf(run, stage.name).items?.length ?? 0;
  const elements = Array.from({ length: count }, (_, i) => groupElementNames(stage, i));
  let busy = elements.filter((names) => elementState(run, names) === 'active').length;
  for (const [i, names] of elements.entries()) {
    const before = elementState(run, names);
    if (before === 'settled') continue;
    // Elements start in index order, so every element after a waiting one is untouched too.
    if (before === 'pending' && busy >= stage.maxConcurrency) break;
    advanceElement(run, stage, i);
    if (run.state.status !== 'running') return false;
    // An active element settles here when its remaining steps are skipped by their `when`: its place is free.
    const after = elementState(run, names);
    busy += (after === 'active' ? 1 : 0) - (before === 'active' ? 1 : 0);
  }
  if (!elements.every((names) => elementState(run, names) === 'settled')) return false;
  const output = elements.map((names) => elementResult(run, stage, names));
  emit(run, { type: 'StepSucceeded', at: run.env.now, step: stage.name, replyId: null, output, pivot: false });
  return true;
}

/** Starts the element's next steps in order while the ones before them have settled. */
function advanceElement(run: Run, stage: ForEachGroupStage, index: number): void {
  const names = groupElementNames(stage, index);
  for (const [k, inner] of stage.steps.entries()) {
    const l: CommandStep = { ...inner, name: names[k] as string };
    if (stepOf(run, l.name).status === 'pending') startInner(run, l);
    if (run.state.status !== 'running') return;
    if (!settled(stepOf(run, l.name).status)) return;
  }
}

/** Evaluates the step's `when` in its element's scope, then sends its first attempt or skips it. */
function startInner(run: Run, l: CommandStep): void {
  if (l.when !== null) {
    const r = evaluate(l.when, scopeFor(run.state, l.name));
    if (!r.ok) {
      failStep(run, l, `when: ${r.error}`, 'failed');
      return;
    }
    if (!truthy(r.value)) {
      emit(run, { type: 'StepSkipped', at: run.env.now, step: l.name });
      return;
    }
  }
  dispatch(run, l, 1);
}

/** One element's results by step name; a skipped step has none. */
function elementResult(run: Run, stage: ForEachGroupStage, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  stage.steps.forEach((l, k) => {
    const st = stepOf(run, names[k] as string);
    if (st.outcome === 'done') out[l.name] = st.output;
  });
  return out;
}
