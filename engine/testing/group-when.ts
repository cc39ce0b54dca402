/**
 * The `when` of a forEach group's step both ways: it is evaluated per element, so it is
 * turned for the first element (`lines[0].pick`) by changing one field of that element in the
 * input array the group iterates (`$input.lines[0].quantity = 0`).
 */
import type { CompiledSaga, ExprScope } from '../core/index.js';
import { groupStepName } from '../core/index.js';
import { namesAfter } from './for-each-samples.js';
import { astOf } from './references.js';
import type { Samples } from './samples.js';
import { DELETE, holds, literals, withValue, type WhenCase } from './when-inputs.js';

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function at(input: unknown, names: readonly string[]): unknown {
  let node = input;
  for (const n of names) node = isRecord(node) ? node[n] : undefined;
  return node;
}

/** Every `$item` path an expression's tree reads. */
function itemPaths(ast: unknown): string[][] {
  const out: string[][] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!isRecord(node)) return;
    const names = namesAfter(node as never, 'item');
    if (names !== null && names.length > 0) out.push(names);
    Object.values(node).forEach(visit);
  };
  visit(ast);
  return out;
}

/** Pure: for each group step's `when`, its value for the first element of the sample input and, where found, an input giving the other. */
export function groupWhenCases(saga: CompiledSaga, samples: Samples): { cases: WhenCase[]; notes: string[] } {
  const cases: WhenCase[] = [];
  const notes: string[] = [];
  for (const stage of saga.stages) {
    if (stage.kind !== 'forEach' || stage.steps === undefined) continue;
    const itemsAst = astOf(stage.items);
    const arrayAt = itemsAst === null ? null : namesAfter(itemsAst, 'input');
    for (const l of stage.steps) {
      if (l.when === null) continue;
      const step = groupStepName(stage.name, 0, l.name);
      const items = arrayAt === null || arrayAt.length === 0 ? undefined : at(samples.input, arrayAt);
      if (arrayAt === null || !Array.isArray(items) || items.length === 0) {
        notes.push(`the when of ${stage.name}.${l.name} (${l.when.source}) is evaluated per element, and the sample input gives the group no element from a plain $input path; write a case for it`);
        continue;
      }
      const scope = (input: unknown): ExprScope => ({
        input, steps: samples.success, saga: { id: 'test-1', key: null, name: saga.name, correlationId: 'corr-1' }, event: null,
        item: (at(input, arrayAt) as unknown[] | undefined)?.[0], index: 0,
      });
      const base = holds(l.when, scope(samples.input));
      if (base === null) {
        notes.push(`the when of ${step} (${l.when.source}) fails on the sample input; see the scenarios for the error`);
        continue;
      }
      cases.push({ step, source: l.when.source, value: base, input: samples.input, change: null });
      const ast = astOf(l.when);
      const candidates: unknown[] = [!base, base, true, false, null, DELETE, 0, 1, -1, '', 'other', [], ...literals(ast)];
      let flipped: { input: unknown; change: string } | undefined;
      search: for (const names of itemPaths(ast)) {
        for (const c of candidates) {
          const list = structuredClone(items) as unknown[];
          list[0] = withValue(list[0], names, c);
          const input = withValue(samples.input, arrayAt, list);
          if (holds(l.when, scope(input)) === !base) {
            const field = `$input.${arrayAt.join('.')}[0].${names.join('.')}`;
            flipped = { input, change: c === DELETE ? `without ${field}` : `${field} = ${JSON.stringify(c)}` };
            break search;
          }
        }
      }
      if (flipped === undefined) notes.push(`the when of ${step} (${l.when.source}) stays ${base} whatever one field of the element holds; write a case for the other way`);
      else cases.push({ step, source: l.when.source, value: !base, ...flipped });
    }
  }
  return { cases, notes };
}
