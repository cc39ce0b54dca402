/**
 * Scripts: how the simulated participants answer, step by step and attempt by attempt, and
 * when an operator cancels. Generated scenarios, `sagactl simulate --script` and case files
 * all come down to one Script.
 */
import type { CompiledSaga, LeafStep } from '../core/index.js';
import { leafSteps } from '../core/index.js';
import { leafOf } from './leaves.js';
import { parseDuration } from '../definitions/duration.js';

/** What a participant does with one command (or what happens to one awaited event). */
export const ReplyKind = {
  /** Answers success (a wait step: the event arrives). */
  ok: 'ok',
  /** Answers with a business failure (a compensation: any non-success reply). */
  fail: 'fail',
  /** Answers with a retryable reply. */
  retryable: 'retryable',
  /** Never answers. */
  timeout: 'timeout',
  /** Does not answer in time, then answers success after the step was given up. */
  late: 'late',
} as const;
export type ReplyKind = (typeof ReplyKind)[keyof typeof ReplyKind];

/** One scripted answer; `delay` in ms (null: the default), for `late` counted from the give-up. */
export interface ScriptedReply {
  readonly kind: ReplyKind;
  readonly delay: number | null;
  /** The reply payload; absent: the generated sample. */
  readonly payload?: unknown;
}

/** When an operator cancels: while a step awaits its reply, or at a simulated time (ms from the start). */
export type CancelAt = { readonly step: string } | { readonly at: number };

/** Answers per attempt (the last one repeats) for each step and each compensation. */
export interface Script {
  readonly do: Readonly<Record<string, readonly ScriptedReply[]>>;
  readonly undo: Readonly<Record<string, readonly ScriptedReply[]>>;
  readonly cancel: CancelAt | null;
}

export const emptyScript: Script = { do: {}, undo: {}, cancel: null };

/** A script that does not parse or does not fit the saga: the sentence and what to write instead. */
export class ScriptError extends Error {
  readonly code = 'SAGA_ERR_SCRIPT';
  constructor(message: string, readonly hint: string) {
    super(message);
    this.name = 'ScriptError';
  }
}

const kinds = Object.values(ReplyKind) as string[];
const SYNTAX = 'write STEP=REPLY[,REPLY...] where REPLY is ok, fail, retryable, timeout or late, '
  + 'each with an optional :DELAY and *COUNT (like book-hotel=retryable*2,ok:3s), '
  + 'STEP.undo=REPLY for a compensation, or cancel=STEP / cancel=DURATION';

/** Pure: one `KIND[:DELAY][*COUNT]`, repeated COUNT times. */
export function parseReply(text: string): ScriptedReply[] {
  const m = /^([a-z]+)(?::([0-9a-z]+))?(?:\*(\d+))?$/.exec(text.trim());
  if (m === null || !kinds.includes(m[1] ?? '')) throw new ScriptError(`\`${text}\` is not a reply`, SYNTAX);
  const delay = m[2] === undefined ? null : parseDuration(m[2]);
  if (delay === null && m[2] !== undefined) throw new ScriptError(`\`${m[2]}\` in \`${text}\` is not a duration`, 'write a delay like 200ms, 3s or 1m');
  const count = m[3] === undefined ? 1 : Number(m[3]);
  if (count < 1 || count > 100) throw new ScriptError(`the count in \`${text}\` must be from 1 to 100`, SYNTAX);
  return Array.from({ length: count }, () => ({ kind: m[1] as ReplyKind, delay }));
}

/** A step, a forEach element (`reserve[2]`), a group's step (`lines.pick`) or an element's (`lines[2].pick`). */
const stepPattern = /^[a-z][a-z0-9-]*(\[\d+\])?(\.[a-z][a-z0-9-]*)?$/;

/**
 * Pure: parses script texts (each `TARGET=REPLY,REPLY,...`, entries separated by commas, a
 * reply without `TARGET=` continuing the previous target) into a Script; throws ScriptError.
 */
export function parseScript(texts: readonly string[]): Script {
  const doReplies: Record<string, ScriptedReply[]> = {};
  const undoReplies: Record<string, ScriptedReply[]> = {};
  let cancel: CancelAt | null = null;
  for (const text of texts) {
    let current: ScriptedReply[] | null = null;
    for (const raw of text.split(/[,\s]+/).filter((t) => t !== '')) {
      const eq = raw.indexOf('=');
      if (eq < 0) {
        if (current === null) throw new ScriptError(`\`${raw}\` does not say which step it is for`, SYNTAX);
        current.push(...parseReply(raw));
        continue;
      }
      const target = raw.slice(0, eq);
      const value = raw.slice(eq + 1);
      if (target === 'cancel') {
        const at = /^\d/.test(value) ? parseDuration(value) : null;
        if (at === null && !stepPattern.test(value)) throw new ScriptError(`\`${raw}\` cancels at neither a step nor a time`, 'write cancel=STEP (while STEP awaits its reply) or cancel=DURATION (like cancel=2s)');
        cancel = at === null ? { step: value } : { at };
        current = null;
        continue;
      }
      // `.undo` ends a compensation's target; what is before it is the step (`lines[1].pick.undo`).
      const undo = target.endsWith('.undo');
      const step = undo ? target.slice(0, -'.undo'.length) : target;
      if (!stepPattern.test(step)) throw new ScriptError(`\`${target}\` is not a step name`, SYNTAX);
      const table = undo ? undoReplies : doReplies;
      current = table[step] = [...parseReply(value)];
    }
  }
  return { do: doReplies, undo: undoReplies, cancel };
}

function named(saga: CompiledSaga, step: string): LeafStep {
  const l = leafOf(saga, step);
  if (l === undefined) {
    const names = leafSteps(saga).map((s) => s.name);
    throw new ScriptError(`saga ${saga.name} has no step \`${step}\``, `its steps are ${names.join(', ')}`);
  }
  return l;
}

/** Pure: throws ScriptError when the script names a step the saga lacks or asks for a reply the step cannot give. */
export function checkScript(saga: CompiledSaga, script: Script): void {
  for (const [step, replies] of Object.entries(script.do)) {
    const l = named(saga, step);
    for (const r of replies) {
      if (l.kind === 'wait' && (r.kind === 'fail' || r.kind === 'retryable' || r.kind === 'late')) {
        throw new ScriptError(`\`${step}\` waits for an event, so it cannot answer ${r.kind}`, 'a wait step takes ok (the event arrives, after :DELAY) or timeout (it never does)');
      }
      if (l.kind === 'command' && r.kind === 'fail' && l.reply.failure.length === 0) {
        throw new ScriptError(`\`${step}\` lists no failure reply, so it cannot answer fail`, `its replies are ${[...l.reply.success, ...l.reply.retryable].join(', ')}; use timeout or retryable`);
      }
      if (l.kind === 'command' && r.kind === 'retryable' && l.reply.retryable.length === 0) {
        throw new ScriptError(`\`${step}\` lists no retryable reply, so it cannot answer retryable`, 'use timeout, which is retried the same way');
      }
    }
  }
  for (const [step, replies] of Object.entries(script.undo)) {
    const l = named(saga, step);
    if (l.compensate === null) throw new ScriptError(`\`${step}\` has no compensation`, 'script .undo only for steps with a compensate block');
    if (replies.some((r) => r.kind === 'late')) throw new ScriptError(`the compensation of \`${step}\` cannot answer late`, 'a compensation takes ok, fail, retryable or timeout');
  }
  if (script.cancel !== null && 'step' in script.cancel) named(saga, script.cancel.step);
}

/** Pure: the scripted answer to attempt `attempt` (1-based) of a step or compensation, ok when unscripted. */
export function replyFor(replies: readonly ScriptedReply[] | undefined, attempt: number): ScriptedReply {
  if (replies === undefined || replies.length === 0) return { kind: 'ok', delay: null };
  return replies[Math.min(attempt, replies.length) - 1] ?? { kind: 'ok', delay: null };
}
