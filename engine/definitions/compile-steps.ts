import type { CommandStep, CompensationSpec, LeafStep, MessageSpec, ReplySpec, WaitStep } from '../core/definition.js';
import type { DefinitionPath } from './errors.js';
import type { SagaContext } from './context.js';
import { parseDuration } from './duration.js';
import type { RawCommandStep, RawCompensate, RawLeafStep, RawMessage, RawReply, RawSaga, RawWaitStep } from './raw.js';
import { isChildSaga, isCommand, isDelay } from './raw.js';
import { compileChildSaga, compileDelay } from './compile-kinds.js';
import type { RefSite } from './references.js';
import { resolveRetry } from './retry.js';
import { compileTemplate } from './template.js';

/** Where a leaf step sits and what the pivot means for it. */
export interface LeafInfo {
  readonly path: DefinitionPath;
  readonly site: Pick<RefSite, 'stage' | 'branch' | 'index'>;
  /** The pivot or a step after it. */
  readonly afterPivot: boolean;
  readonly isPivot: boolean;
  readonly defaults: RawSaga['defaults'];
}

/** Compiles a command or wait step, reporting every problem; null when there was one. */
export function compileLeaf(ctx: SagaContext, raw: RawLeafStep, info: LeafInfo): LeafStep | null {
  const before = ctx.file.errors.length;
  const step = isCommand(raw) ? compileCommand(ctx, raw, info)
    : isDelay(raw) ? compileDelay(ctx, raw, info)
    : isChildSaga(raw) ? compileChildSaga(ctx, raw, info)
    : compileWait(ctx, raw, info);
  return ctx.file.errors.length === before ? step : null;
}

export function site(raw: RawLeafStep, info: LeafInfo, where: string, allowSelf = false): RefSite {
  return { ...info.site, self: raw.name, allowSelf, where };
}

function compileCommand(ctx: SagaContext, raw: RawCommandStep, info: LeafInfo): CommandStep {
  const { path } = info;
  const f = ctx.file;
  const when = raw.when === undefined ? null : ctx.expression([...path, 'when'], raw.when, site(raw, info, 'when'));
  const command = compileMessage(ctx, raw.command, [...path, 'command'], site(raw, info, 'payload'));
  const reply = compileReply(ctx, raw.reply, [...path, 'reply']);
  const timeout = stepTimeout(ctx, raw.timeout, info, () =>
    f.report(path, `step \`${raw.name}\` has no timeout`, 'add `timeout: 30s` to the step, or `defaults: { timeout: 30s }` to the saga'));
  f.retryIntervals([...path, 'retry'], raw.retry);
  const retry = resolveRetry([raw.retry, info.defaults?.retry]);
  if (info.afterPivot) {
    if (typeof raw.retry?.maxAttempts === 'number') {
      const why = info.isPivot ? 'is the pivot' : 'comes after the pivot';
      f.report([...path, 'retry', 'maxAttempts'], `step \`${raw.name}\` ${why}, so it must retry until it succeeds`,
        'remove maxAttempts, or write maxAttempts: unlimited');
    }
    if (!info.isPivot && (raw.reply.failure?.length ?? 0) > 0) {
      f.report([...path, 'reply', 'failure'], `step \`${raw.name}\` comes after the pivot, so it cannot fail`,
        'remove `failure`; past the point of no return a step must succeed, so list such replies as `retryable`', 'key');
    }
  }
  return {
    kind: 'command', name: raw.name, when, pivot: info.isPivot, command, reply, timeout: timeout ?? 0,
    retry: info.afterPivot ? { ...retry, maxAttempts: null } : retry,
    compensate: compensation(ctx, raw, info), afterPivot: info.afterPivot,
  };
}

function compileWait(ctx: SagaContext, raw: RawWaitStep, info: LeafInfo): WaitStep {
  const { path } = info;
  const when = raw.when === undefined ? null : ctx.expression([...path, 'when'], raw.when, site(raw, info, 'when'));
  const match = raw.wait.match === undefined ? null : ctx.expression([...path, 'wait', 'match'], raw.wait.match, site(raw, info, 'match'));
  let timeout: number | null = null;
  if (raw.timeout !== undefined && info.afterPivot) {
    ctx.file.report([...path, 'timeout'], `step \`${raw.name}\` comes after the pivot, so it cannot time out`,
      'remove timeout: past the point of no return the saga waits until the event arrives', 'key');
  } else if (raw.timeout !== undefined) {
    timeout = ctx.file.positiveDuration([...path, 'timeout'], raw.timeout);
  }
  return {
    kind: 'wait', name: raw.name, when, subject: raw.wait.subject, type: raw.wait.type, match, timeout,
    compensate: compensation(ctx, raw, info), afterPivot: info.afterPivot,
  };
}

function stepTimeout(ctx: SagaContext, own: string | undefined, info: LeafInfo, missing: () => void): number | null {
  if (own !== undefined) return ctx.file.positiveDuration([...info.path, 'timeout'], own);
  const fallback = info.defaults?.timeout;
  if (fallback === undefined) missing();
  return fallback === undefined ? null : parseDuration(fallback);
}

function compensation(ctx: SagaContext, raw: RawCommandStep | RawWaitStep, info: LeafInfo): CompensationSpec | null {
  const at = [...info.path, 'compensate'];
  if (raw.compensate === undefined) {
    const markedPivot = isCommand(raw) && raw.pivot === true;
    if (isCommand(raw) && !info.afterPivot && !markedPivot) {
      ctx.file.report(info.path, `step \`${raw.name}\` has no compensate`,
        'add a compensate block, or mark the point of no return with pivot: true');
    }
    return null;
  }
  if (info.isPivot) {
    ctx.file.report(at, `the pivot \`${raw.name}\` cannot have a compensate block`,
      'the pivot is the point of no return: remove compensate, or remove pivot: true', 'key');
    return null;
  }
  if (info.afterPivot) {
    ctx.file.report(at, `step \`${raw.name}\` comes after the pivot, so it is never compensated`, 'remove the compensate block', 'key');
    return null;
  }
  return compileCompensation(ctx, raw, raw.compensate, info);
}

function compileCompensation(ctx: SagaContext, step: RawCommandStep | RawWaitStep, raw: RawCompensate, info: LeafInfo): CompensationSpec {
  const at = [...info.path, 'compensate'];
  const command = compileMessage(ctx, raw.command, [...at, 'command'], site(step, info, 'compensation', true));
  const reply = compileReply(ctx, raw.reply, [...at, 'reply']);
  let timeout: number | null = null;
  if (raw.timeout !== undefined) timeout = ctx.file.positiveDuration([...at, 'timeout'], raw.timeout);
  else if (step.timeout !== undefined) timeout = parseDuration(step.timeout);
  else if (info.defaults?.timeout !== undefined) timeout = parseDuration(info.defaults.timeout);
  else {
    ctx.file.report(at, `the compensation of \`${step.name}\` has no timeout`,
      'add `timeout: 30s` to the compensate block, to the step, or to the saga defaults');
  }
  ctx.file.retryIntervals([...at, 'retry'], raw.retry);
  return { command, reply, timeout: timeout ?? 0, retry: resolveRetry([raw.retry, info.defaults?.retry]) };
}

function compileMessage(ctx: SagaContext, raw: RawMessage, path: DefinitionPath, refSite: RefSite): MessageSpec {
  const payload = compileTemplate(
    raw.payload ?? {},
    [...path, 'payload'],
    (p, source) => ctx.expression(p, source, refSite),
    (p, message, hint) => ctx.file.report(p, message, hint),
  );
  return { subject: raw.subject, type: raw.type, version: raw.version ?? 1, payload: payload ?? { kind: 'literal', value: null } };
}

function compileReply(ctx: SagaContext, raw: RawReply, path: DefinitionPath): ReplySpec {
  const reply = { subject: raw.subject, success: raw.success, failure: raw.failure ?? [], retryable: raw.retryable ?? [] };
  const seen = new Map<string, string>();
  for (const list of ['success', 'failure', 'retryable'] as const) {
    for (const type of reply[list]) {
      const first = seen.get(type);
      if (first !== undefined && first !== list) {
        ctx.file.report([...path, list], `\`${type}\` is listed as both ${first} and ${list}`, 'a reply type means one outcome; keep it in one list');
      }
      seen.set(type, first ?? list);
    }
  }
  return reply;
}
