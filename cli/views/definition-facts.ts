/** What the views and `why` need to know of a definition: each leaf step by name. */
import type { DefinitionDetail, StepDetail } from '../../engine/api/documents.js';

/** Pure: every leaf step of a definition document, parallel branches flattened in order. */
export function leafDetails(def: DefinitionDetail | undefined): StepDetail[] {
  if (def === undefined) return [];
  const out: StepDetail[] = [];
  for (const s of def.steps) {
    if (s.kind === 'parallel') for (const b of s.branches ?? []) out.push(...b);
    else out.push(s);
  }
  return out;
}

/** Pure: the leaf step named `name` (a forEach element `reserve[2]`: its forEach step; a group's `lines[2].pick`: the group's step `pick`), or undefined. */
export function leafDetail(def: DefinitionDetail | undefined, name: string): StepDetail | undefined {
  const all = leafDetails(def);
  const g = /^(.+)\[\d+\]\.([a-z][a-z0-9-]*)$/.exec(name);
  if (g !== null) return all.find((s) => s.kind === 'forEach' && s.name === g[1])?.steps?.find((s) => s.name === g[2]);
  return all.find((s) => s.name === name) ?? all.find((s) => s.kind === 'forEach' && new RegExp(`^${s.name}\\[\\d+\\]$`).test(name));
}

/** Pure: the most attempts a step (or its compensation) gets: a number, null for unlimited, undefined when unknown. */
export function maxAttempts(step: StepDetail | undefined, compensation = false): number | null | undefined {
  if (step === undefined) return undefined;
  if (compensation) return step.compensation === undefined || step.compensation === null ? undefined : step.compensation.retry.maxAttempts;
  if (step.kind === 'wait') return 1;
  return step.retry === undefined ? undefined : step.retry.maxAttempts;
}

/** Pure: `n/N`: `2/3`, `1/∞` for unlimited, `2/?` when the definition is unknown. */
export function attemptsText(n: number, max: number | null | undefined): string {
  return `${n}/${max === undefined ? '?' : max === null ? '∞' : String(max)}`;
}

/** Pure: the name of the pivot step, or undefined. */
export function pivotOf(def: DefinitionDetail | undefined): string | undefined {
  return leafDetails(def).find((s) => s.pivot === true)?.name;
}
