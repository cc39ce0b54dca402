/**
 * What the generated scenarios make of `forEach` steps: each element is a step of its own
 * (failing, timing out, answering late, its compensation failing, a cancel while it is in
 * flight), as many elements as the happy path iterates on the sample input; and, where
 * elements run at once, each one failing while the others are in flight.
 */
import type { CompiledSaga, ForEachStage, LeafStep } from '../core/index.js';
import { elementName, groupStepName } from '../core/index.js';
import { groupLeaf } from './leaves.js';
import { runSaga } from './run.js';
import type { Samples } from './samples.js';
import { doScript, failing, type Scenario } from './scenarios.js';
import { emptyScript } from './script.js';

/** At most this many elements of a stage get scenarios of their own: the first ones and the last. */
export const MAX_ELEMENT_TARGETS = 3;

/** Pure: the element indexes that get scenarios: all of a few, else the first two and the last. */
export function elementTargets(n: number): number[] {
  if (n <= MAX_ELEMENT_TARGETS) return Array.from({ length: n }, (_, i) => i);
  return [0, 1, n - 1];
}

/**
 * Pure: the leaves with each forEach step replaced by its target elements, the element count
 * of each stage on the happy path, and a note for a stage that iterated nothing there (its
 * scenarios then script the step itself, which every element follows).
 */
export function expandElements(saga: CompiledSaga, samples: Samples, leaves: readonly LeafStep[]): { leaves: LeafStep[]; counts: Map<string, number>; notes: string[] } {
  const counts = new Map<string, number>();
  const notes: string[] = [];
  if (!saga.stages.some((s) => s.kind === 'forEach')) return { leaves: [...leaves], counts, notes };
  for (const e of runSaga(saga, samples, emptyScript).journal) if (e.type === 'ForEachStarted') counts.set(e.step, e.items.length);
  const out: LeafStep[] = [];
  const groupsDone = new Set<string>();
  for (const l of leaves) {
    const g = groupLeaf(saga, l.name);
    if (g !== null) {
      expandGroupLeaf(saga, samples, l, g.stage, counts.get(g.stage) ?? 0, groupsDone, out, notes);
      continue;
    }
    const stage = saga.stages.find((s) => s.kind === 'forEach' && s.name === l.name);
    const n = counts.get(l.name) ?? 0;
    if (stage === undefined) out.push(l);
    else if (n === 0) {
      notes.push(`forEach step ${l.name} iterates no element on the ${samples.inputOrigin === 'given' ? 'given' : 'sample'} input: its scenarios script every element alike; give an input with --input`);
      out.push(l);
    } else {
      for (const i of elementTargets(n)) out.push({ ...l, name: elementName(l.name, i) });
    }
  }
  return { leaves: out, counts, notes };
}

/**
 * A group's steps element by element (`lines[0].reserve`, `lines[0].pick`, `lines[1].reserve`...)
 * for its target elements, the first time one of its leaves comes; never iterated, each step
 * by the group's name (`lines.pick`), which every element follows.
 */
function expandGroupLeaf(saga: CompiledSaga, samples: Samples, l: LeafStep, stage: string, n: number, done: Set<string>, out: LeafStep[], notes: string[]): void {
  if (n === 0) {
    if (!done.has(stage)) notes.push(`forEach group ${stage} iterates no element on the ${samples.inputOrigin === 'given' ? 'given' : 'sample'} input: its scenarios script every element alike; give an input with --input`);
    done.add(stage);
    out.push(l);
    return;
  }
  if (done.has(stage)) return;
  done.add(stage);
  const steps = saga.stages.find((s) => s.kind === 'forEach' && s.name === stage);
  if (steps?.kind !== 'forEach' || steps.steps === undefined) return;
  for (const i of elementTargets(n)) for (const inner of steps.steps) out.push({ ...inner, name: groupStepName(stage, i, inner.name) });
}

/** Pure: each target element failing at once while the other elements are in flight (stages running two or more at a time). */
export function elementScenarios(saga: CompiledSaga, stage: ForEachStage, n: number): Scenario[] {
  if (stage.maxConcurrency < 2 || n < 2) return [];
  // A group's element fails at its first step that can fail; the others are then in flight.
  const steps = stage.steps ?? [stage.step];
  const k = steps.findIndex((l) => failing(l, saga)?.kind === 'fail');
  const inner = steps[k];
  if (inner === undefined) return [];
  return elementTargets(Math.min(n, stage.maxConcurrency)).map((i) => {
    const name = stage.steps === undefined ? elementName(stage.name, i) : groupStepName(stage.name, i, inner.name);
    return { name: `${name} fails while the other elements are in flight`, kind: 'element-fails', script: doScript(name, [{ kind: 'fail', delay: 1 }]) };
  });
}
