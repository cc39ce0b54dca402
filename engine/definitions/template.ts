import type { Expr, Template } from '../core/definition.js';
import type { DefinitionPath } from './errors.js';
import { show } from './errors.js';
import { unwrapExpression } from './expression.js';

/** Compiles the expression at a path, reporting problems; null after an error. */
export type ExprCompiler = (path: DefinitionPath, source: string) => Expr | null;
/** Reports a problem at a path. */
export type Reporter = (path: DefinitionPath, message: string, hint: string) => void;

/**
 * Compiles a payload into a Template: a string that is exactly `{% ... %}` becomes an
 * expression, other values stay literal, and subtrees without expressions collapse into one
 * literal. Returns null when something in it was reported.
 */
export function compileTemplate(
  value: unknown,
  path: DefinitionPath,
  compile: ExprCompiler,
  report: Reporter,
): Template | null {
  if (typeof value === 'string') {
    if (unwrapExpression(value) !== null) {
      const expr = compile(path, value);
      return expr === null ? null : { kind: 'expr', expr };
    }
    if (value.includes('{%')) {
      report(
        path,
        `\`${show(value)}\` mixes text with an expression`,
        "a string is either exactly \"{% expression %}\" or plain text; build text inside the expression, like \"{% 'order-' & $input.orderId %}\"",
      );
      return null;
    }
    return { kind: 'literal', value };
  }
  if (Array.isArray(value)) {
    const items = value.map((item, i) => compileTemplate(item, [...path, i], compile, report));
    if (items.some((i) => i === null)) return null;
    const compiled = items as Template[];
    return compiled.every(isLiteral) ? { kind: 'literal', value } : { kind: 'array', items: compiled };
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => [k, compileTemplate(v, [...path, k], compile, report)] as const);
    if (entries.some(([, t]) => t === null)) return null;
    const compiled = entries as (readonly [string, Template])[];
    return compiled.every(([, t]) => isLiteral(t)) ? { kind: 'literal', value } : { kind: 'object', entries: compiled };
  }
  return { kind: 'literal', value };
}

function isLiteral(t: Template): boolean {
  return t.kind === 'literal';
}
