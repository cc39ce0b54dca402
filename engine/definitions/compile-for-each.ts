import type { CommandStep, ForEachStage } from '../core/definition.js';
import type { SagaContext } from './context.js';
import { compileLeaf } from './compile-steps.js';
import type { LeafInfo } from './compile-steps.js';
import type { RawCommandStep, RawForEach, RawForEachGroup, RawLeafStep, RawStep } from './raw.js';
import { isChildSaga, isCommand, isDelay, isForEach, isForEachGroup, isParallel } from './raw.js';

/** Elements in flight at once when `maxConcurrency` is not given: one after another. */
export const defaultMaxConcurrency = 1;
/** The element bound when `maxItems` is not given: the array comes from input, so it is always bounded. */
export const defaultMaxItems = 1000;

/**
 * Compiles a top-level command step with a `forEach` block into a stage, reporting every
 * problem; null when there was one. The step's `when` decides for the whole stage, so the
 * step run per element has none.
 */
export function compileForEach(ctx: SagaContext, raw: RawCommandStep & { forEach: RawForEach }, info: LeafInfo): ForEachStage | null {
  const before = ctx.file.errors.length;
  const { path } = info;
  const own = { ...info.site, self: raw.name, allowSelf: false };
  if (raw.pivot === true) {
    ctx.file.report([...path, 'pivot'], `step \`${raw.name}\` runs forEach, so it cannot be the pivot`,
      'a pivot is one command whose success is the point of no return; make it a step of its own', 'key');
  }
  const when = raw.when === undefined ? null : ctx.expression([...path, 'when'], raw.when, { ...own, where: 'when' });
  const items = ctx.expression([...path, 'forEach', 'items'], raw.forEach.items, { ...own, where: 'forEach.items' });
  const { when: _when, forEach: _forEach, ...single } = raw;
  const step = compileLeaf(ctx, single, info);
  if (ctx.file.errors.length !== before || items === null || step === null || step.kind !== 'command') return null;
  return {
    kind: 'forEach', name: raw.name, when, items, step,
    maxConcurrency: raw.forEach.maxConcurrency ?? defaultMaxConcurrency,
    maxItems: raw.forEach.maxItems ?? defaultMaxItems,
  };
}

/**
 * Compiles a `forEach` group into a stage, reporting every problem; null when there was one.
 * Its steps are command steps only: a wait, delay, saga step, parallel group, nested forEach
 * or pivot inside it is refused with what to do instead. Each step's `when` is its own and is
 * evaluated per element; its expressions see the element's earlier steps as `$steps.<step>`.
 */
export function compileForEachGroup(ctx: SagaContext, raw: RawForEachGroup, info: LeafInfo): ForEachStage | null {
  const before = ctx.file.errors.length;
  const { path } = info;
  const own = { ...info.site, self: raw.name, allowSelf: false };
  const when = raw.when === undefined ? null : ctx.expression([...path, 'when'], raw.when, { ...own, where: 'when' });
  const items = ctx.expression([...path, 'forEach', 'items'], raw.forEach.items, { ...own, where: 'forEach.items' });
  const steps: CommandStep[] = [];
  raw.steps.forEach((inner, i) => {
    const at = [...path, 'steps', i];
    const refused = refusedInGroup(inner);
    if (refused !== null) {
      ctx.file.report([...at, refused.key], `step \`${inner.name}\` is inside forEach group \`${raw.name}\`, so it cannot ${refused.what}`, refused.hint, 'key');
      return;
    }
    const l = compileLeaf(ctx, inner as RawLeafStep, { ...info, path: at, site: { stage: info.site.stage, branch: 0, index: i }, isPivot: false });
    if (l !== null && l.kind === 'command') steps.push(l);
  });
  const first = steps[0];
  if (ctx.file.errors.length !== before || items === null || first === undefined || steps.length !== raw.steps.length) return null;
  return {
    kind: 'forEach', name: raw.name, when, items, step: { ...first, name: raw.name, when: null }, steps,
    maxConcurrency: raw.forEach.maxConcurrency ?? defaultMaxConcurrency,
    maxItems: raw.forEach.maxItems ?? defaultMaxItems,
  };
}

const groupHint = 'a forEach group runs command steps only; make it a top-level step before or after the group';

/** Why a step may not sit in a forEach group, at which key, and what to do; null for a command step that may. */
function refusedInGroup(step: RawStep): { key: string; what: string; hint: string } | null {
  if (isParallel(step)) return { key: 'parallel', what: 'be a parallel group', hint: groupHint };
  if (isForEachGroup(step)) return { key: 'steps', what: 'be a forEach group of its own', hint: 'nested forEach groups are not supported; list its steps in this group, or make it a top-level group' };
  if (isDelay(step)) return { key: 'delay', what: 'be a delay', hint: groupHint };
  if (isChildSaga(step)) return { key: 'saga', what: 'start a child saga', hint: groupHint };
  if (!isCommand(step)) return { key: 'wait', what: 'wait for an event', hint: groupHint };
  if (isForEach(step)) return { key: 'forEach', what: 'run forEach', hint: 'the group already runs once per element; remove this forEach block' };
  if (step.pivot === true) return { key: 'pivot', what: 'be the pivot', hint: 'a pivot is one command whose success is the point of no return; make it a top-level step' };
  return null;
}
