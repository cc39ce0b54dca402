/**
 * Sample arrays for `forEach` steps: an array a stage iterates straight from the input
 * (`items: "{% $input.lines %}"`) gets a few elements, each with every field the step's
 * templates read from `$item`, so the generated scenarios have elements to fail one by one.
 */
import type jsonata from 'jsonata';
import type { CompiledSaga, ForEachStage, Template } from '../core/index.js';
import { astOf } from './references.js';

const arithmetic = new Set(['+', '-', '*', '/', '%', '<', '<=', '>', '>=']);

/** How many elements a generated sample array has. */
export const SAMPLE_ELEMENTS = 2;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The plain names after `$variable` in a path node (`$item.sku` gives [sku]), or null for another node. */
export function namesAfter(n: jsonata.ExprNode, variable: string): string[] | null {
  if (n.type === 'variable' && n.value === variable) return [];
  const [first, ...rest] = n.type === 'path' ? n.steps ?? [] : [];
  if (first?.type !== 'variable' || first.value !== variable) return null;
  const names: string[] = [];
  for (const s of rest) {
    if (s.type !== 'name' || typeof s.value !== 'string') break;
    names.push(s.value);
  }
  return names;
}

/** Every `$item` path the templates read (an empty list: `$item` itself), and those read as numbers (compared or computed with). */
function itemPaths(templates: readonly Template[]): { paths: string[][]; numbers: Set<string> } {
  const out: string[][] = [];
  const numbers = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const n = node as jsonata.ExprNode;
    const names = namesAfter(n, 'item');
    if (names !== null) out.push(names);
    // `$item.quantity > 0` reads a number: its sample is one, so the comparison holds and does not fail.
    if (n.type === 'binary' && arithmetic.has(String(n.value))) {
      for (const side of [n.lhs, n.rhs]) {
        const numeric = side === undefined ? null : namesAfter(side, 'item');
        if (numeric !== null && numeric.length > 0) numbers.add(numeric.join('.'));
      }
    }
    Object.values(node).forEach(visit);
  };
  const walk = (t: Template): void => {
    if (t.kind === 'expr') visit(astOf(t.expr));
    else if (t.kind === 'object') t.entries.forEach(([, v]) => walk(v));
    else if (t.kind === 'array') t.items.forEach(walk);
  };
  templates.forEach(walk);
  return { paths: out, numbers };
}

/** Pure: sample element `i` (0-based): an object with each field read, or a string when `$item` is read whole. */
function element(paths: readonly string[][], numbers: ReadonlySet<string>, i: number): unknown {
  const fields = paths.filter((p) => p.length > 0);
  if (fields.length === 0) return `item-${i + 1}`;
  const out: Record<string, unknown> = {};
  for (const names of fields) {
    let node = out;
    for (const [k, name] of names.entries()) {
      if (k === names.length - 1) {
        if (!(name in node)) node[name] = numbers.has(names.join('.')) ? 1 : `${name}-${i + 1}`;
      } else {
        if (!isRecord(node[name])) node[name] = {};
        node = node[name] as Record<string, unknown>;
      }
    }
  }
  return out;
}

function stageSample(stage: ForEachStage): { names: string[]; value: unknown[] } | null {
  const ast = astOf(stage.items);
  const names = ast === null ? null : namesAfter(ast, 'input');
  if (names === null || names.length === 0) return null;
  const templates = (stage.steps ?? [stage.step]).flatMap((l) => [l.command.payload, ...(l.compensate === null ? [] : [l.compensate.command.payload])]);
  // A group's steps have a `when` each, evaluated per element: what it reads of $item is sampled too.
  const whens = (stage.steps ?? []).flatMap((l) => (l.when === null ? [] : [{ kind: 'expr' as const, expr: l.when }]));
  const { paths, numbers } = itemPaths([...templates, ...whens]);
  return { names, value: Array.from({ length: SAMPLE_ELEMENTS }, (_, i) => element(paths, numbers, i)) };
}

/** Pure: fills, in place, each input array a forEach stage iterates that is not an array yet. */
export function fillForEachInputs(saga: CompiledSaga, input: Record<string, unknown>): void {
  for (const stage of saga.stages) {
    if (stage.kind !== 'forEach') continue;
    const sample = stageSample(stage);
    if (sample === null) continue;
    let node = input;
    for (const [k, name] of sample.names.entries()) {
      if (k === sample.names.length - 1) {
        if (!Array.isArray(node[name])) node[name] = sample.value;
      } else {
        if (!isRecord(node[name])) node[name] = {};
        node = node[name] as Record<string, unknown>;
      }
    }
  }
}
