import { leafSteps, type CompiledSaga } from '../core/definition.js';
import type { ChildReference, FileContext } from './context.js';

/**
 * Checks every `saga` step against the sagas loaded with it: the child exists, no saga
 * starts itself through its children, a child that has a pivot (it cannot be undone once
 * past it) runs only at or after its parent's pivot, where nothing is compensated, and a
 * child run after its parent's pivot cannot fail, since a step there must succeed.
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
      if (ref.afterPivot) checkCannotFail(ctx, ref, byName, child);
    }
  }
}

/**
 * A `saga` step after the pivot (a `saga` step is never the pivot itself) must succeed like
 * every step there (DESIGN section 2), so its child must complete: none of its steps, nor of
 * the children it starts in turn, may fail for a participant's answer or for lack of time.
 * What is left is what fails any step past a pivot: an expression or a payload the data
 * does not fit, which leaves the parent `failed` for an operator.
 */
function checkCannotFail(ctx: FileContext, ref: ChildReference, byName: ReadonlyMap<string, CompiledSaga>, child: CompiledSaga): void {
  const why = howItFails(byName, child, new Set());
  if (why === null) return;
  const hasPivot = leafSteps(child).some((l) => l.kind === 'command' && l.pivot);
  ctx.report([...ref.path, 'saga'], `step \`${ref.step}\` comes after the pivot, so it cannot fail, but its child \`${ref.child}\` can: ${why('its')}`,
    `make every step of ${ref.child}, and of the sagas it starts, retry until it succeeds (maxAttempts: unlimited, failure replies listed as retryable, no timeout on the saga, its waits or its saga steps)${hasPivot ? '' : `, or run \`${ref.step}\` before the pivot of ${ref.parent}`}`);
}

/** A reason a saga may end without completing, said after `its` (or `whose`). */
type Reason = (possessive: string) => string;

/**
 * Why `saga`, or a saga it starts, may end without completing; null when it always completes
 * but for bad data. Each saga is looked at once: a cycle of children has its own error.
 */
function howItFails(byName: ReadonlyMap<string, CompiledSaga>, saga: CompiledSaga, seen: Set<string>): Reason | null {
  if (seen.has(saga.name)) return null;
  seen.add(saga.name);
  if (saga.timeout !== null) return (its) => `${its} saga timeout compensates it when it passes`;
  for (const l of leafSteps(saga)) {
    const step = `step \`${l.name}\``;
    if (l.kind === 'command') {
      const failure = l.reply.failure;
      if (failure.length > 0) return (its) => `${its} ${step} fails on the ${failure.length === 1 ? 'reply' : 'replies'} ${failure.map((f) => `\`${f}\``).join(', ')}`;
      const max = l.retry.maxAttempts;
      if (max !== null) return (its) => `${its} ${step} fails after ${max} ${max === 1 ? 'attempt' : 'attempts'} (maxAttempts)`;
    } else if (l.kind === 'wait' && l.timeout !== null) {
      return (its) => `${its} wait ${step} fails when its timeout passes`;
    } else if (l.kind === 'saga') {
      if (l.timeout !== null) return (its) => `${its} ${step} fails when its child saga \`${l.saga}\` outlasts the step's timeout`;
      const next = byName.get(l.saga);
      const inner = next === undefined ? null : howItFails(byName, next, seen);
      if (inner !== null) return (its) => `${its} ${step} starts saga \`${l.saga}\`, ${inner('whose')}`;
    }
  }
  return null;
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
