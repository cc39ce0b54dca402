import type { CommandStep, CompiledSaga, ForEachStage } from './definition.js';
import { ownStep, type InstanceState } from './state.js';

/**
 * How the elements of a `forEach` stage are named and found. Element `i` of stage `reserve`
 * is the step `reserve[i]` everywhere: in the state's `steps`, the journal, timers and the
 * `Saga-Step` header. Step names never contain `[` (the DSL allows `[a-z][a-z0-9-]*`), so an
 * element's name cannot collide with a step's, and journals written before `forEach` existed
 * read exactly as before. In a `forEach` group, element `i`'s step `s` of stage `lines` is
 * the step `lines[i].s`; the group's steps are listed by `leafSteps` as `lines.s`.
 */

/** Pure: the step name of element `index` of stage `stage`. */
export function elementName(stage: string, index: number): string {
  return `${stage}[${index}]`;
}

const elementPattern = /^(.+)\[(0|[1-9][0-9]*)\]$/;

/** Pure: the stage and index an element's name stands for, or null for any other name. */
export function parseElement(name: string): { readonly stage: string; readonly index: number } | null {
  const m = elementPattern.exec(name);
  if (m === null) return null;
  return { stage: m[1] as string, index: Number(m[2]) };
}

/** Pure: the forEach stage of that name, or undefined. */
export function forEachStage(def: CompiledSaga, name: string): ForEachStage | undefined {
  for (const stage of def.stages) if (stage.kind === 'forEach' && stage.name === name) return stage;
  return undefined;
}

/** Pure: the step name of step `step` of element `index` of the forEach group `stage`. */
export function groupStepName(stage: string, index: number, step: string): string {
  return `${stage}[${index}].${step}`;
}

const groupStepPattern = /^(.+)\[(0|[1-9][0-9]*)\]\.([a-z][a-z0-9-]*)$/;

/** Pure: the group, element index and inner step a group step's name stands for, or null for any other name. */
export function parseGroupStep(name: string): { readonly stage: string; readonly index: number; readonly step: string } | null {
  const m = groupStepPattern.exec(name);
  if (m === null) return null;
  return { stage: m[1] as string, index: Number(m[2]), step: m[3] as string };
}

/** Pure: the stage and index of any per-element step name (`s[2]` or `s[2].inner`), or null. */
export function elementOf(name: string): { readonly stage: string; readonly index: number } | null {
  return parseElement(name) ?? parseGroupStep(name);
}

/** Pure: the command step an element runs, named as the element (or the group's step of an element); undefined for any other name. */
export function elementLeaf(def: CompiledSaga, name: string): CommandStep | undefined {
  const g = parseGroupStep(name);
  if (g !== null) {
    const inner = forEachStage(def, g.stage)?.steps?.find((l) => l.name === g.step);
    return inner === undefined ? undefined : { ...inner, name };
  }
  const e = parseElement(name);
  const stage = e === null ? undefined : forEachStage(def, e.stage);
  return stage === undefined || stage.steps !== undefined ? undefined : { ...stage.step, name };
}

/** Pure: the step names of element `index` of a forEach group, in the group's order; none for a single-step stage. */
export function groupElementNames(stage: ForEachStage, index: number): string[] {
  return (stage.steps ?? []).map((l) => groupStepName(stage.name, index, l.name));
}

/** Pure: the names of a started stage's elements in element order; none before it started. */
export function elementNames(state: InstanceState, stage: string): string[] {
  return (ownStep(state.steps, stage)?.items ?? []).map((_, i) => elementName(stage, i));
}

/**
 * Pure: every step name of the instance in definition order, each forEach stage as its
 * started elements followed by the stage itself: the order steps are given up in.
 */
export function stepNamesInOrder(def: CompiledSaga, state: InstanceState): string[] {
  const out: string[] = [];
  for (const stage of def.stages) {
    if (stage.kind === 'parallel') for (const branch of stage.branches) out.push(...branch.map((l) => l.name));
    else if (stage.kind === 'forEach' && stage.steps !== undefined) {
      const n = ownStep(state.steps, stage.name)?.items?.length ?? 0;
      for (let i = 0; i < n; i++) out.push(...groupElementNames(stage, i));
      out.push(stage.name);
    } else if (stage.kind === 'forEach') out.push(...elementNames(state, stage.name), stage.name);
    else out.push(stage.name);
  }
  return out;
}
