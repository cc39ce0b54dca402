import type { CompiledSaga, LeafStep } from '../core/index.js';
import { elementLeaf, leafSteps, parseElement } from '../core/index.js';

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
  const e = parseElement(step);
  return e === null ? undefined : table[e.stage];
}
