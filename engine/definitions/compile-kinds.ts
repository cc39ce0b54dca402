import type { ChildSagaStep, DelayStep } from '../core/definition.js';
import type { SagaContext } from './context.js';
import type { LeafInfo } from './compile-steps.js';
import { site } from './compile-steps.js';
import type { RawDelayStep, RawSagaStep } from './raw.js';
import { compileTemplate } from './template.js';

/** Compiles a `delay` step: exactly one of `for` (a duration) and `until` (an expression). */
export function compileDelay(ctx: SagaContext, raw: RawDelayStep, info: LeafInfo): DelayStep {
  const { path } = info;
  const when = raw.when === undefined ? null : ctx.expression([...path, 'when'], raw.when, site(raw, info, 'when'));
  let duration: number | null = null;
  let until = null;
  if ((raw.delay.for === undefined) === (raw.delay.until === undefined)) {
    ctx.file.report([...path, 'delay'], `delay \`${raw.name}\` needs exactly one of \`for\` and \`until\``,
      'write `for: 30s` to wait a duration, or `until: "{% $input.shipAt %}"` to wait until an ISO time');
  } else if (raw.delay.for !== undefined) {
    duration = ctx.file.positiveDuration([...path, 'delay', 'for'], raw.delay.for);
  } else if (raw.delay.until !== undefined) {
    until = ctx.expression([...path, 'delay', 'until'], raw.delay.until, site(raw, info, 'until'));
  }
  return { kind: 'delay', name: raw.name, when, duration, until, compensate: null, afterPivot: info.afterPivot };
}

/**
 * Compiles a `saga` step. Whether the child exists, and whether it may be compensated (a child
 * with a pivot cannot be undone, so it may only run at or after the parent's pivot), is checked
 * by the loader once every saga of the file is known.
 */
export function compileChildSaga(ctx: SagaContext, raw: RawSagaStep, info: LeafInfo): ChildSagaStep {
  const { path } = info;
  const when = raw.when === undefined ? null : ctx.expression([...path, 'when'], raw.when, site(raw, info, 'when'));
  const input = compileTemplate(
    raw.input ?? {}, [...path, 'input'],
    (p, source) => ctx.expression(p, source, site(raw, info, 'input')),
    (p, message, hint) => ctx.file.report(p, message, hint),
  );
  const key = raw.key === undefined ? null : ctx.expression([...path, 'key'], raw.key, site(raw, info, 'key'));
  let timeout: number | null = null;
  if (raw.timeout !== undefined && info.afterPivot) {
    ctx.file.report([...path, 'timeout'], `step \`${raw.name}\` comes after the pivot, so it cannot time out`,
      'remove timeout: past the point of no return the saga waits until the child ends', 'key');
  } else if (raw.timeout !== undefined) {
    timeout = ctx.file.positiveDuration([...path, 'timeout'], raw.timeout);
  }
  ctx.file.children.push({ parent: ctx.sagaName, step: raw.name, child: raw.saga, afterPivot: info.afterPivot, path });
  return {
    kind: 'saga', name: raw.name, when, saga: raw.saga, input: input ?? { kind: 'literal', value: {} }, key, timeout,
    compensate: null, afterPivot: info.afterPivot,
  };
}
