import type { ForEachStage } from './definition.js';
import { elementNames } from './for-each.js';
import { advanceGroup } from './for-each-group.js';
import { dispatch, failStep, whenHolds } from './forward.js';
import { emit, stepOf, type Run } from './run.js';
import { evaluate, scopeOf } from './template.js';

/**
 * The forward path of a `forEach` stage: its items are evaluated once and journaled, so a
 * replay never evaluates them again; elements start in index order, at most
 * `maxConcurrency` in flight; the stage succeeds, with the element results in element order,
 * once every element succeeded. An element failing for good fails the saga as any step does
 * (`failStep`), and the compensation gives up the elements still in flight. A group's
 * elements run their steps in order (for-each-group.ts).
 */

const inFlight = (status: string) => status === 'running' || status === 'retrying';

/** Starts the elements that may start now; true when the stage has settled (succeeded or skipped). */
export function advanceForEach(run: Run, stage: ForEachStage): boolean {
  if (stepOf(run, stage.name).status === 'pending' && !startForEach(run, stage)) return false;
  const status = stepOf(run, stage.name).status;
  if (status === 'succeeded' || status === 'skipped') return true;
  if (status !== 'running') return false;
  if (stage.steps !== undefined) return advanceGroup(run, { ...stage, steps: stage.steps });
  const names = elementNames(run.state, stage.name);
  let busy = names.filter((n) => inFlight(stepOf(run, n).status)).length;
  for (const name of names) {
    if (busy >= stage.maxConcurrency) break;
    if (stepOf(run, name).status !== 'pending') continue;
    dispatch(run, { ...stage.step, name }, 1);
    if (run.state.status !== 'running') return false;
    busy += 1;
  }
  if (!names.every((n) => stepOf(run, n).status === 'succeeded')) return false;
  const output = names.map((n) => stepOf(run, n).output);
  emit(run, { type: 'StepSucceeded', at: run.env.now, step: stage.name, replyId: null, output, pivot: false });
  return true;
}

/** Evaluates `when` and `items` and journals the items; false when the stage failed instead. */
function startForEach(run: Run, stage: ForEachStage): boolean {
  if (stage.when !== null) {
    const on = whenHolds(run, stage.when, stage.step);
    if (on === null) return false;
    if (!on) {
      emit(run, { type: 'StepSkipped', at: run.env.now, step: stage.name });
      return true;
    }
  }
  const items = itemsOf(run, stage);
  if (typeof items === 'string') {
    failStep(run, stage.step, items, 'failed', 'not_done');
    return false;
  }
  emit(run, { type: 'ForEachStarted', at: run.env.now, step: stage.name, items });
  return true;
}

/** The stage's elements, or why there are none to run: the array comes from input, so it is bounded. */
function itemsOf(run: Run, stage: ForEachStage): unknown[] | string {
  const r = evaluate(stage.items, scopeOf(run.state));
  if (!r.ok) return `forEach items: ${r.error}`;
  if (!Array.isArray(r.value)) {
    const got = r.value === undefined ? 'no value' : r.value === null ? 'null' : `a ${typeof r.value}`;
    return `forEach items ${stage.items.source} gave ${got}, not an array`;
  }
  if (r.value.length > stage.maxItems) {
    return `forEach items ${stage.items.source} gave ${r.value.length} elements, more than maxItems ${stage.maxItems}`;
  }
  return r.value as unknown[];
}
