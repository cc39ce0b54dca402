/** The JSON documents of loaded saga definitions: their shape, not their expressions' results. */
import type { CompensationSpec, CompiledSaga, LeafStep, MessageSpec, ReplySpec, RetryPolicy, Stage } from '../core/index.js';

export interface StageSummary {
  readonly name: string;
  readonly kind: Stage['kind'];
  /** For a parallel group: the step names of each branch. */
  readonly branches?: string[][];
}

export interface DefinitionSummary {
  readonly name: string;
  readonly description: string;
  readonly hash: string;
  readonly trigger: { readonly subject: string; readonly type: string } | null;
  /** Whole-saga deadline in ms, or null for none. */
  readonly timeout: number | null;
  readonly steps: StageSummary[];
}

export interface MessageDocument { readonly subject: string; readonly type: string; readonly version: number }
export interface ReplyDocument { readonly subject: string; readonly success: string[]; readonly failure: string[]; readonly retryable: string[] }
export interface RetryDocument {
  /** Null: retried until it succeeds. */
  readonly maxAttempts: number | null;
  readonly initialInterval: number;
  readonly backoffRate: number;
  readonly maxInterval: number;
  readonly jitter: string;
}
export interface CompensationSpecDocument { readonly command: MessageDocument; readonly reply: ReplyDocument; readonly timeout: number; readonly retry: RetryDocument }

/** A step in detail; the fields present depend on `kind`. Durations are ms. */
export interface StepDetail {
  readonly name: string;
  readonly kind: Stage['kind'];
  /** The `when` expression's source, or null. */
  readonly when: string | null;
  readonly pivot?: boolean;
  readonly afterPivot?: boolean;
  readonly command?: MessageDocument;
  readonly reply?: ReplyDocument;
  readonly timeout?: number | null;
  readonly retry?: RetryDocument;
  readonly subject?: string;
  readonly type?: string;
  readonly match?: string | null;
  readonly compensation?: CompensationSpecDocument | null;
  readonly branches?: StepDetail[][];
  /** For a forEach stage: the `items` expression's source and its bounds. */
  readonly items?: string;
  readonly maxConcurrency?: number;
  readonly maxItems?: number;
  /** A forEach over a group: the steps each element runs, in order, by their own names (element i's step s is `name[i].s`). */
  readonly steps?: StepDetail[];
  /** A `delay` step: ms to wait, or null when `until` gives the time. */
  readonly for?: number | null;
  /** A `delay` step: the `until` expression's source, or null. */
  readonly until?: string | null;
  /** A `saga` step: the child saga's name. */
  readonly saga?: string;
}

export interface DefinitionDetail extends Omit<DefinitionSummary, 'steps'> {
  /** The `start.key` expression's source, or null. */
  readonly key: string | null;
  /** Message types with a JSON Schema, as `Type@version`. */
  readonly schemas: string[];
  readonly steps: StepDetail[];
}

function stageSummary(stage: Stage): StageSummary {
  if (stage.kind !== 'parallel') return { name: stage.name, kind: stage.kind };
  return { name: stage.name, kind: stage.kind, branches: stage.branches.map((b) => b.map((l) => l.name)) };
}

/** Pure: the summary of a definition, its steps as names and kinds. */
export function definitionSummary(def: CompiledSaga): DefinitionSummary {
  return {
    name: def.name, description: def.description, hash: def.hash, trigger: def.start.on === null ? null : { ...def.start.on },
    timeout: def.timeout, steps: def.stages.map(stageSummary),
  };
}

const message = (m: MessageSpec): MessageDocument => ({ subject: m.subject, type: m.type, version: m.version });
const reply = (r: ReplySpec): ReplyDocument => ({ subject: r.subject, success: [...r.success], failure: [...r.failure], retryable: [...r.retryable] });
const retry = (r: RetryPolicy): RetryDocument => ({ ...r });
const compensation = (c: CompensationSpec | null): CompensationSpecDocument | null =>
  c === null ? null : { command: message(c.command), reply: reply(c.reply), timeout: c.timeout, retry: retry(c.retry) };

function leafDetail(l: LeafStep): StepDetail {
  const when = l.when?.source ?? null;
  if (l.kind === 'wait') {
    return {
      name: l.name, kind: l.kind, when, afterPivot: l.afterPivot, subject: l.subject, type: l.type,
      match: l.match?.source ?? null, timeout: l.timeout, compensation: compensation(l.compensate),
    };
  }
  if (l.kind === 'delay') return { name: l.name, kind: l.kind, when, afterPivot: l.afterPivot, for: l.duration, until: l.until?.source ?? null };
  if (l.kind === 'saga') return { name: l.name, kind: l.kind, when, afterPivot: l.afterPivot, saga: l.saga, timeout: l.timeout };
  return {
    name: l.name, kind: l.kind, when, pivot: l.pivot, afterPivot: l.afterPivot, command: message(l.command), reply: reply(l.reply),
    timeout: l.timeout, retry: retry(l.retry), compensation: compensation(l.compensate),
  };
}

function stageDetail(stage: Stage): StepDetail {
  if (stage.kind === 'forEach' && stage.steps !== undefined) {
    return {
      name: stage.name, kind: stage.kind, when: stage.when?.source ?? null, afterPivot: stage.step.afterPivot,
      items: stage.items.source, maxConcurrency: stage.maxConcurrency, maxItems: stage.maxItems, steps: stage.steps.map(leafDetail),
    };
  }
  if (stage.kind === 'forEach') {
    return {
      ...leafDetail(stage.step), kind: stage.kind, when: stage.when?.source ?? null,
      items: stage.items.source, maxConcurrency: stage.maxConcurrency, maxItems: stage.maxItems,
    };
  }
  if (stage.kind !== 'parallel') return leafDetail(stage);
  return { name: stage.name, kind: stage.kind, when: stage.when?.source ?? null, branches: stage.branches.map((b) => b.map(leafDetail)) };
}

/** Pure: a definition in detail: trigger, key, deadline, schemas, and every step's messages and policies. */
export function definitionDetail(def: CompiledSaga): DefinitionDetail {
  return {
    ...definitionSummary(def), key: def.start.key?.source ?? null, schemas: Object.keys(def.schemas).sort(),
    steps: def.stages.map(stageDetail),
  };
}
