import type { CompiledSaga, LeafStep } from '../core/index.js';
import { leafSteps } from '../core/index.js';

const cache = new WeakMap<CompiledSaga, ReadonlyMap<string, LeafStep>>();

/** Pure: the saga's leaf step of that name; the lookup table is built once per saga, as a scenario run asks often. */
export function leafOf(saga: CompiledSaga, name: string): LeafStep | undefined {
  let table = cache.get(saga);
  if (table === undefined) {
    table = new Map(leafSteps(saga).map((l) => [l.name, l]));
    cache.set(saga, table);
  }
  return table.get(name);
}
