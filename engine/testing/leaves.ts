import type { CompiledSaga, LeafStep } from '../core/index.js';
import { elementLeaf, forEachStage, groupStepName, leafSteps, parseElement, parseGroupStep } from '../core/index.js';

const cache = new WeakMap<CompiledSaga, ReadonlyMap<string, LeafStep>>();

/**
 * Pure: the saga's leaf step of that name (a forEach element `reserve[2]` as the step it runs,
 * named so); the lookup table is built once per saga, as a scenario run asks often.
 */
export function leafOf(saga: CompiledSaga, name: string): LeafStep | undefined {
  let table = cache.get(saga);
  if (table === undefined) {
    table = new Map(leafSteps(saga).map((l) => [l.name, l]));
    cache.set(saga, table);
  }
  return table.get(name) ?? elementLeaf(saga, name);
}

/** Pure: the entry for a step in a table keyed by step name; a forEach element falls back to its stage's entry. */
export function forStep<T>(table: Readonly<Record<string, T>>, step: string): T | undefined {
  const own = table[step];
  if (own !== undefined) return own;
  const g = parseGroupStep(step);
  if (g !== null) return table[`${g.stage}.${g.step}`];
  const e = parseElement(step);
  return e === null ? undefined : table[e.stage];
}

/** Pure: the forEach group and its step a group leaf's name (`lines.pick`, as `leafSteps` lists it) stands for, or null. */
export function groupLeaf(saga: CompiledSaga, name: string): { readonly stage: string; readonly step: string } | null {
  const dot = name.indexOf('.');
  if (dot < 0) return null;
  const stage = name.slice(0, dot);
  const step = name.slice(dot + 1);
  return forEachStage(saga, stage)?.steps?.some((l) => l.name === step) === true ? { stage, step } : null;
}

/**
 * Pure: the leaf steps as they ran: a forEach stage that started (`counts` has its element
 * count) stands for its elements (`s[i]`, or a group's `s[i].step` element by element), one
 * that never did for itself (a group: each of its steps as `s.step`).
 */
export function concreteLeaves(saga: CompiledSaga, counts: ReadonlyMap<string, number>): LeafStep[] {
  const out: LeafStep[] = [];
  for (const stage of saga.stages) {
    if (stage.kind === 'parallel') for (const branch of stage.branches) out.push(...branch);
    else if (stage.kind !== 'forEach') out.push(stage);
    else {
      const n = counts.get(stage.name);
      const steps = stage.steps;
      if (steps === undefined) out.push(...(n === undefined ? [stage.step] : Array.from({ length: n }, (_, i) => ({ ...stage.step, name: `${stage.name}[${i}]` }))));
      else if (n === undefined) out.push(...steps.map((l) => ({ ...l, name: `${stage.name}.${l.name}` })));
      else for (let i = 0; i < n; i++) out.push(...steps.map((l) => ({ ...l, name: groupStepName(stage.name, i, l.name) })));
    }
  }
  return out;
}
