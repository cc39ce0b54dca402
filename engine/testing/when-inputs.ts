/**
 * Inputs that turn each `when` condition both ways: starting from the sample input, one
 * `$input` field the condition reads is changed until the condition flips. A condition that
 * reads only step results, or that no single field flips, is reported instead.
 */
import type jsonata from 'jsonata';
import type { CompiledSaga, Expr, ExprScope } from '../core/index.js';
import { leafSteps, truthy } from '../core/index.js';
import { astOf, pathsIn } from './references.js';
import type { Samples } from './samples.js';
import { groupWhenCases } from './group-when.js';

/** A `when` and the input that makes it true or false, or why none was found. */
export interface WhenCase {
  /** The step (or parallel group) the condition guards. */
  readonly step: string;
  readonly source: string;
  readonly value: boolean;
  readonly input: unknown;
  /** The field changed from the sample input, like `$input.needsCar = true`; null for the sample itself. */
  readonly change: string | null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function literals(ast: jsonata.ExprNode | null): unknown[] {
  const out: unknown[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!isRecord(node)) return;
    const n = node as unknown as jsonata.ExprNode;
    if (n.type === 'string') out.push(n.value);
    if (n.type === 'number' && typeof n.value === 'number') out.push(n.value, n.value + 1, n.value - 1);
    Object.values(node).forEach(visit);
  };
  visit(ast);
  return out;
}

export const DELETE = Symbol('delete');

export function withValue(input: unknown, names: readonly string[], value: unknown): unknown {
  const copy = isRecord(input) ? structuredClone(input) : {};
  let node: Record<string, unknown> = copy;
  for (const [i, name] of names.entries()) {
    if (i === names.length - 1) {
      if (value === DELETE) delete node[name];
      else node[name] = value;
    } else {
      if (!isRecord(node[name])) node[name] = {};
      node = node[name] as Record<string, unknown>;
    }
  }
  return copy;
}

export function holds(expr: Expr, scope: ExprScope): boolean | null {
  try {
    return truthy(expr.evaluate(scope));
  } catch {
    return null;
  }
}

/** Pure: for each `when`, the sample input's value and, where found, an input giving the other. */
export function whenCases(saga: CompiledSaga, samples: Samples): { cases: WhenCase[]; notes: string[] } {
  const guarded: { step: string; when: Expr }[] = [];
  for (const stage of saga.stages) if ((stage.kind === 'parallel' || stage.kind === 'forEach') && stage.when !== null) guarded.push({ step: stage.name, when: stage.when });
  // A forEach group's step has its `when` per element: groupWhenCases turns it for the first element.
  for (const l of leafSteps(saga)) if (l.when !== null && !l.name.includes('.')) guarded.push({ step: l.name, when: l.when });
  const cases: WhenCase[] = [];
  const notes: string[] = [];
  const scope = (input: unknown): ExprScope => ({ input, steps: samples.success, saga: { id: 'test-1', key: null, name: saga.name, correlationId: 'corr-1' }, event: null });
  for (const { step, when } of guarded) {
    const base = holds(when, scope(samples.input));
    if (base === null) {
      notes.push(`the when of ${step} (${when.source}) fails on the sample input; see the scenarios for the error`);
      continue;
    }
    cases.push({ step, source: when.source, value: base, input: samples.input, change: null });
    const ast = astOf(when);
    const paths = pathsIn(ast).filter((p) => p.variable === 'input');
    const candidates: unknown[] = [!base, base, true, false, null, DELETE, 0, 1, -1, '', 'other', [], ...literals(ast)];
    let flipped: { input: unknown; change: string } | undefined;
    search: for (const p of paths) {
      for (const c of candidates) {
        const input = withValue(samples.input, p.names, c);
        if (holds(when, scope(input)) === !base) {
          const field = `$input.${p.names.join('.')}`;
          flipped = { input, change: c === DELETE ? `without ${field}` : `${field} = ${JSON.stringify(c)}` };
          break search;
        }
      }
    }
    if (flipped === undefined) {
      notes.push(`the when of ${step} (${when.source}) stays ${base} whatever one input field holds${paths.length === 0 ? ': it reads no $input' : ''}; write a case for the other way`);
    } else {
      cases.push({ step, source: when.source, value: !base, ...flipped });
    }
  }
  const group = groupWhenCases(saga, samples);
  return { cases: [...cases, ...group.cases], notes: [...notes, ...group.notes] };
}
