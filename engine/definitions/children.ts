import { leafSteps, type CompiledSaga } from '../core/definition.js';
import type { FileContext } from './context.js';

/**
 * Checks every `saga` step against the sagas loaded with it: the child exists, no saga
 * starts itself through its children, and a child that has a pivot (it cannot be undone
 * once past it) runs only at or after its parent's pivot, where nothing is compensated.
 */
export function checkChildren(contexts: readonly FileContext[], sagas: readonly CompiledSaga[], names: ReadonlySet<string>): void {
  const byName = new Map(sagas.map((s) => [s.name, s]));
  for (const ctx of contexts) {
    for (const ref of ctx.children) {
      const child = byName.get(ref.child);
      if (child === undefined) {
        // A child that is written but did not compile has its own errors.
        if (names.has(ref.child)) continue;
        ctx.report([...ref.path, 'saga'], `step \`${ref.step}\` starts saga \`${ref.child}\`, which is not defined`,
          `define a saga named ${ref.child} in this file or an included one (known: ${[...byName.keys()].join(', ') || 'none'})`);
        continue;
      }
      if (reaches(byName, ref.child, ref.parent, new Set())) {
        ctx.report([...ref.path, 'saga'], `step \`${ref.step}\` starts saga \`${ref.child}\`, which starts \`${ref.parent}\` again`,
          'a saga cannot start itself through its children: break the cycle');
        continue;
      }
      const pivot = leafSteps(child).find((l) => l.kind === 'command' && l.pivot);
      if (pivot !== undefined && !ref.afterPivot) {
        ctx.report([...ref.path, 'saga'], `step \`${ref.step}\` may have to be compensated, but its child \`${ref.child}\` has the pivot \`${pivot.name}\` and cannot be undone past it`,
          `run \`${ref.step}\` at or after the pivot of ${ref.parent}, or remove the pivot of ${ref.child}`);
      }
    }
  }
}

/** Whether `from`, through its `saga` steps, starts `target`. */
function reaches(byName: ReadonlyMap<string, CompiledSaga>, from: string, target: string, seen: Set<string>): boolean {
  if (from === target) return true;
  if (seen.has(from)) return false;
  seen.add(from);
  const saga = byName.get(from);
  if (saga === undefined) return false;
  return leafSteps(saga).some((l) => l.kind === 'saga' && reaches(byName, l.saga, target, seen));
}
