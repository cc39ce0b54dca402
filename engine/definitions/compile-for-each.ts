import type { ForEachStage } from '../core/definition.js';
import type { SagaContext } from './context.js';
import { compileLeaf } from './compile-steps.js';
import type { LeafInfo } from './compile-steps.js';
import type { RawCommandStep, RawForEach } from './raw.js';

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
