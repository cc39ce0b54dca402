import type jsonata from 'jsonata';
import { didYouMean } from './suggest.js';

/** Where a step or group sits: its stage, and for a branch step its branch and index. */
export interface StepPlace {
  readonly stage: number;
  readonly branch: number | null;
  readonly index: number;
  readonly group: boolean;
  /** A step of a forEach group: the group's name (its result is per element, read inside the group only). */
  readonly within?: string;
}

/** Where an expression sits, and what it may see: `stage` -1 means before any step (start.key). */
export interface RefSite {
  readonly stage: number;
  readonly branch: number | null;
  readonly index: number;
  /** The step (or group) the expression belongs to. */
  readonly self: string | null;
  /** True for a compensation, which runs after its own step. */
  readonly allowSelf: boolean;
  /** What the expression is, for messages: `payload`, `when`, `compensation`, `match`... */
  readonly where: string;
}

/** Pure: every step name an expression reads as `$steps.name`, `$steps.\`name\`` or `$lookup($steps, "name")`. */
export function stepReferences(ast: jsonata.ExprNode): string[] {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const n = node as jsonata.ExprNode;
    const [first, second] = n.type === 'path' ? (n.steps ?? []) : [];
    if (isVariable(first, 'steps') && second?.type === 'name') found.add(String(second.value));
    if (n.type === 'function' && isVariable(n.procedure, 'lookup')) {
      const [obj, key] = n.arguments ?? [];
      if (isVariable(obj, 'steps') && key?.type === 'string') found.add(String(key.value));
    }
    Object.values(n).forEach(visit);
  };
  visit(ast);
  return [...found];
}

function isVariable(node: jsonata.ExprNode | undefined, name: string): boolean {
  return node?.type === 'variable' && node.value === name;
}

/** Pure: null when `site` may read step `name`, else the message and hint saying why not. */
export function checkReference(
  name: string,
  site: RefSite,
  places: ReadonlyMap<string, StepPlace>,
): { message: string; hint: string } | null {
  const refers = `${site.where} refers to \`${name}\``;
  const p = places.get(name);
  if (p === undefined) {
    const hint = didYouMean(name, places.keys(), 'refer to a step defined earlier in this saga');
    return { message: `${refers}, but the saga has no step of that name`, hint };
  }
  if (p.group) {
    return { message: `${refers}, which is a parallel group`, hint: 'refer to one of the steps inside the group' };
  }
  if (site.stage < 0) {
    return { message: `${refers}, but no step has run when the saga starts`, hint: 'use $input or $event here' };
  }
  if (p.within !== undefined && p.stage !== site.stage) {
    return {
      message: `${refers}, a step of forEach group \`${p.within}\`, whose results exist per element`,
      hint: `after the group read $steps.\`${p.within}\`[i].${name} (one object per element), or use it inside the group`,
    };
  }
  const later = { message: `${refers}, which comes later`, hint: 'an expression can only use the results of steps that finish before it' };
  if (p.stage < site.stage) return null;
  if (p.stage > site.stage) return later;
  if (name === site.self) {
    if (site.allowSelf) return null;
    return { message: `${refers} itself, which has no result yet`, hint: "only the step's compensation can use its own result" };
  }
  if (site.branch === null) return later;
  if (p.branch === null) {
    return { message: `${refers}, the forEach group it runs in, which has no result until every element is done`, hint: "read this element's earlier steps as $steps.<step>" };
  }
  if (p.branch === site.branch) return p.index < site.index ? null : later;
  return {
    message: `${refers}, which runs in another branch of the same parallel group`,
    hint: `branches run at the same time, so its result may not exist yet; move \`${name}\` before the group or into this branch`,
  };
}
