import type jsonata from 'jsonata';
import type { DefinitionPath } from './errors.js';

/**
 * The deepest nesting the loader reads, in the data of a file (its arrays and objects, aliases
 * expanded) and in the syntax tree of an expression. The loader, ajv and JSONata walk both by
 * recursion; a chain of aliases (each anchor a thousand brackets deep, the next one inside
 * it) or a few thousand parentheses would run them out of stack, and the server would stop at
 * start instead of saying where. Real definitions nest under twenty levels.
 */
export const MAX_NESTING = 200;

/** Where data nests past MAX_NESTING, and how deep it goes. */
export interface TooDeep {
  /** Levels of arrays and objects, counted from the value given (a scalar is 0, `[1]` is 1). */
  readonly depth: number;
  /** The value at level MAX_NESTING + 1 on the deepest branch, from the value given. */
  readonly path: DefinitionPath;
}

type Container = Record<string, unknown> | unknown[];

const isContainer = (v: unknown): v is Container => v !== null && typeof v === 'object';

function members(v: Container): [string | number, unknown][] {
  return Array.isArray(v) ? v.map((item, i) => [i, item]) : Object.entries(v);
}

/**
 * Pure: null when `value` nests at most MAX_NESTING levels, else how deep and where. Values an
 * alias repeats are shared: each is measured once, so this is linear in the distinct values.
 * Without recursion, as it must measure what recursion cannot.
 */
export function dataTooDeep(value: unknown): TooDeep | null {
  const heights = new WeakMap<object, number>();
  const height = (v: unknown): number => (isContainer(v) ? heights.get(v) ?? 0 : 0);
  // Post-order without recursion: a container is measured once all its members are.
  const pending: { node: Container; expanded: boolean }[] = isContainer(value) ? [{ node: value, expanded: false }] : [];
  // Containers being measured: one inside itself (data has none; a cycle) is not followed.
  const open = new Set<object>();
  while (pending.length > 0) {
    const top = pending[pending.length - 1] as { node: Container; expanded: boolean };
    if (!top.expanded) {
      top.expanded = true;
      open.add(top.node);
      for (const [, m] of members(top.node)) if (isContainer(m) && !heights.has(m) && !open.has(m)) pending.push({ node: m, expanded: false });
      continue;
    }
    pending.pop();
    open.delete(top.node);
    if (heights.has(top.node)) continue; // shared, and reached twice before it was measured
    let h = 0;
    for (const [, m] of members(top.node)) h = Math.max(h, height(m));
    heights.set(top.node, h + 1);
  }
  const depth = height(value);
  if (depth <= MAX_NESTING) return null;
  // Down the deepest branch (the first of the deepest, in document order) to its value at
  // level MAX_NESTING + 1: the depth reported is that branch's.
  const path: (string | number)[] = [];
  let node = value;
  for (let level = 1; level <= MAX_NESTING; level++) {
    let next: [string | number, unknown] | undefined;
    for (const m of members(node as Container)) if (next === undefined || height(m[1]) > height(next[1])) next = m;
    if (next === undefined) break; // cannot happen: `node` is deeper than that
    path.push(next[0]);
    node = next[1];
  }
  return { depth, path };
}

/**
 * Pure: how deeply the nodes of a JSONata syntax tree nest (a leaf is 1), counting nodes,
 * not the arrays that hold them. Without recursion; a node reached twice is counted once.
 */
export function treeDepth(ast: jsonata.ExprNode): number {
  let deepest = 0;
  const seen = new Set<object>();
  const pending: { value: unknown; depth: number }[] = [{ value: ast, depth: 0 }];
  while (pending.length > 0) {
    const { value, depth } = pending.pop() as { value: unknown; depth: number };
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    if (Array.isArray(value)) {
      for (const item of value) pending.push({ value: item, depth });
      continue;
    }
    const isNode = typeof (value as { type?: unknown }).type === 'string';
    const d = isNode ? depth + 1 : depth;
    deepest = Math.max(deepest, d);
    for (const v of Object.values(value)) pending.push({ value: v, depth: d });
  }
  return deepest;
}

/** Pure: a long path cut to its first segments, for a message. */
export function shortPath(path: DefinitionPath, keep = 12): { path: DefinitionPath; cut: boolean } {
  return path.length <= keep ? { path, cut: false } : { path: path.slice(0, keep), cut: true };
}
