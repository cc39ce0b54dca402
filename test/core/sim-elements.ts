/**
 * The simulator's view of forEach elements (sim.ts): each element of a forEach step
 * (`reserve[2]`) and each element's step of a forEach group (`lines[2].pick`) is a step of
 * its own to the checks, once its stage has started.
 */
import { elementNames, forEachStage, groupStepName, type CompiledSaga, type InstanceState, type LeafStep } from '../../engine/core/index.js';

/** The leaf steps so far: a forEach step that started stands for its elements, each a step of its own. */
export function expandedLeaves(def: CompiledSaga, templates: readonly LeafStep[], s: InstanceState | undefined): LeafStep[] {
  return templates.flatMap((l) => {
    // A forEach group's step `lines.pick`: element i's is `lines[i].pick`, once the group started.
    const dot = l.name.indexOf('.');
    if (dot > 0) {
      const n = s?.steps[l.name.slice(0, dot)]?.items?.length;
      return n === undefined ? [l] : Array.from({ length: n }, (_, i) => ({ ...l, name: groupStepName(l.name.slice(0, dot), i, l.name.slice(dot + 1)) }));
    }
    if (s === undefined || forEachStage(def, l.name) === undefined || s.steps[l.name]?.items === undefined) return [l];
    return elementNames(s, l.name).map((name) => ({ ...l, name }));
  });
}

/** Whether the step may be skipped: its own `when`, or its forEach stage's. */
export function guarded(def: CompiledSaga, l: LeafStep): boolean {
  // A group's step `lines[2].pick` or `lines.pick`: its stage is `lines`.
  const stage = l.name.replace(/(\[\d+\])?\.[a-z][a-z0-9-]*$/, '');
  return l.when !== null || (forEachStage(def, stage)?.when ?? null) !== null;
}
