/**
 * What a saga's expressions read: the `$input` and `$steps` paths, and where a plain path is
 * the whole value of a payload field whose message has a schema. Sample inputs and replies are
 * built from these, so a generated scenario gives every expression something to read.
 */
import type jsonata from 'jsonata';
import type { CompiledSaga, Expr, MessageSpec, Template } from '../core/index.js';
import { leafSteps } from '../core/index.js';
import { compileExprDetailed } from '../definitions/expression.js';

/** A path an expression reads, like `$input.customer.id` (`variable` input, `names` [customer, id]). */
export interface ReadPath {
  readonly variable: 'input' | 'steps';
  readonly names: readonly string[];
  /** When the expression is exactly this path and fills payload field `field` of `message`. */
  readonly field?: { readonly message: string; readonly name: string };
  /** A value the expression suggests: a number for arithmetic, the literal it is compared with. */
  readonly sample?: unknown;
}

const arithmetic = new Set(['+', '-', '*', '/', '%', '<', '<=', '>', '>=']);

/** The value an operand of `op` should have, judging by the other operand; undefined when nothing says. */
function suggested(op: unknown, other: jsonata.ExprNode | undefined): unknown {
  if (arithmetic.has(String(op))) return 1;
  if (op !== '=' && op !== '!=') return undefined;
  // Equal to the literal it is compared with, so a `when` like `$input.plan = 'gold'` holds on the sample.
  if (other?.type === 'string' || other?.type === 'number' || other?.type === 'value') return other.value;
  return undefined;
}

/** Pure: the raw JSON Schemas of a saga by `Type@version`, read back from its stored source. */
export function rawSchemas(saga: CompiledSaga): Record<string, unknown> {
  let source: { definition?: { schemas?: Record<string, unknown> }; schemaFiles?: Record<string, string> };
  try {
    source = JSON.parse(saga.source) as typeof source;
  } catch {
    return {};
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source.definition?.schemas ?? {})) {
    const id = key.includes('@') ? key : `${key}@1`;
    if (typeof value !== 'string') out[id] = value;
    else {
      try {
        out[id] = JSON.parse(source.schemaFiles?.[value] ?? 'null') as unknown;
      } catch {
        // The loader compiled it, so it is JSON; a hand-built saga may carry anything.
      }
    }
  }
  return out;
}

/** Pure: the syntax tree of an expression, or null when it cannot be parsed again. */
export function astOf(expr: Expr): jsonata.ExprNode | null {
  try {
    return compileExprDetailed(expr.source).ast;
  } catch {
    return null;
  }
}

/** Pure: every `$input...` and `$steps...` path in an expression, as far as it is plain names. */
export function pathsIn(ast: jsonata.ExprNode | null): ReadPath[] {
  const out: ReadPath[] = [];
  const visit = (node: unknown, sample?: unknown): void => {
    if (Array.isArray(node)) return node.forEach((n) => visit(n));
    if (node === null || typeof node !== 'object') return;
    const n = node as jsonata.ExprNode;
    const steps = n.type === 'path' ? n.steps ?? [] : [];
    const first = steps[0];
    if (first?.type === 'variable' && (first.value === 'input' || first.value === 'steps')) {
      const names: string[] = [];
      for (const s of steps.slice(1)) {
        if (s.type !== 'name' || typeof s.value !== 'string') break;
        names.push(s.value);
      }
      if (names.length > 0) out.push({ variable: first.value, names, ...(sample === undefined ? {} : { sample }) });
    }
    if (n.type === 'binary') {
      visit(n.lhs, suggested(n.value, n.rhs));
      visit(n.rhs, suggested(n.value, n.lhs));
      return;
    }
    Object.values(n).forEach((v) => visit(v));
  };
  visit(ast);
  return out;
}

function templatePaths(tpl: Template, message: string, field: string | null, out: ReadPath[]): void {
  switch (tpl.kind) {
    case 'literal': return;
    case 'expr': {
      const ast = astOf(tpl.expr);
      const paths = pathsIn(ast);
      // A payload field that is exactly one path takes its sample from the field's schema.
      const whole = ast?.type === 'path' && paths.length === 1 && (ast.steps?.length ?? 0) === (paths[0]?.names.length ?? 0) + 1;
      for (const p of paths) out.push(whole && field !== null ? { ...p, field: { message, name: field } } : p);
      return;
    }
    case 'object': for (const [k, v] of tpl.entries) templatePaths(v, message, k, out); return;
    case 'array': for (const item of tpl.items) templatePaths(item, message, null, out); return;
  }
}

const messageId = (m: MessageSpec): string => `${m.type}@${m.version}`;

/** The sample time a delay's `until` reads: an hour after a simulation's start (the epoch). */
export const DELAY_UNTIL_SAMPLE = '1970-01-01T01:00:00.000Z';

/** Pure: every path the saga's expressions read, payload fields noted with their message. */
export function readPaths(saga: CompiledSaga): ReadPath[] {
  const out: ReadPath[] = [];
  const exprs: (Expr | null)[] = [saga.start.key];
  for (const stage of saga.stages) if (stage.kind === 'parallel' || stage.kind === 'forEach') exprs.push(stage.when);
  for (const l of leafSteps(saga)) {
    exprs.push(l.when);
    if (l.kind === 'wait') exprs.push(l.match);
    // A delay's until reads a time: an hour after the simulated start, so the delay is waited for.
    else if (l.kind === 'delay' && l.until !== null) out.push(...pathsIn(astOf(l.until)).map((p) => ({ ...p, sample: DELAY_UNTIL_SAMPLE })));
    else if (l.kind === 'saga') {
      exprs.push(l.key);
      templatePaths(l.input, `saga ${l.saga}`, null, out);
    } else if (l.kind === 'command') templatePaths(l.command.payload, messageId(l.command), null, out);
    if (l.compensate !== null) templatePaths(l.compensate.command.payload, messageId(l.compensate.command), null, out);
  }
  for (const e of exprs) if (e !== null) out.push(...pathsIn(astOf(e)));
  return out;
}
