import { assertNever } from './assert-never.js';
import type { Expr, ExprScope, Template } from './definition.js';
import { elementOf, parseElement, parseGroupStep } from './for-each.js';
import { ownStep, type InstanceState } from './state.js';

/** Pure: the expression scope of an instance: its input, step outputs, identity and trigger. */
export function scopeOf(state: InstanceState): ExprScope {
  const steps: Record<string, unknown> = {};
  // An element's result is read through its stage (`scopeFor`, or the stage's array once done).
  for (const [name, st] of Object.entries(state.steps)) if (st.outcome === 'done' && elementOf(name) === null) steps[name] = st.output;
  return {
    input: state.input,
    steps,
    saga: { id: state.id, key: state.key, name: state.saga, correlationId: state.correlationId },
    event: state.event,
  };
}

/**
 * Pure: the scope of a step's own templates. A `forEach` element also sees `$item` and
 * `$index`, and its own result as `$steps.<stage>` (so its compensation reads it as any step's
 * compensation reads its own); a step of a `forEach` group sees `$item`, `$index` and, as
 * `$steps.<step>`, the results of its element's steps so far; any other step sees `scopeOf`.
 */
export function scopeFor(state: InstanceState, step: string): ExprScope {
  const base = scopeOf(state);
  const g = parseGroupStep(step);
  if (g !== null) {
    const steps: Record<string, unknown> = { ...base.steps };
    const prefix = `${g.stage}[${g.index}].`;
    for (const [name, st] of Object.entries(state.steps)) {
      if (st.outcome === 'done' && name.startsWith(prefix) && parseGroupStep(name) !== null) steps[name.slice(prefix.length)] = st.output;
    }
    return { ...base, steps, item: ownStep(state.steps, g.stage)?.items?.[g.index], index: g.index };
  }
  const e = parseElement(step);
  if (e === null) return base;
  const own = ownStep(state.steps, step);
  const steps: Record<string, unknown> = { ...base.steps };
  if (own?.outcome === 'done') steps[e.stage] = own.output;
  else delete steps[e.stage];
  return { ...base, steps, item: ownStep(state.steps, e.stage)?.items?.[e.index], index: e.index };
}

export type Evaluated = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

/** Evaluates an expression; an evaluation error is returned, never thrown. */
export function evaluate(expr: Expr, scope: ExprScope, root?: unknown): Evaluated {
  try {
    return { ok: true, value: expr.evaluate(scope, root) };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, error: why.includes(expr.source) ? why : `expression ${expr.source} failed: ${why}` };
  }
}

/** Renders a payload template; the first evaluation error is returned, never thrown. */
export function renderTemplate(tpl: Template, scope: ExprScope): Evaluated {
  switch (tpl.kind) {
    case 'literal':
      return { ok: true, value: tpl.value };
    case 'expr':
      return evaluate(tpl.expr, scope);
    case 'array': {
      const out: unknown[] = [];
      for (const item of tpl.items) {
        const r = renderTemplate(item, scope);
        if (!r.ok) return r;
        out.push(r.value);
      }
      return { ok: true, value: out };
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of tpl.entries) {
        const r = renderTemplate(v, scope);
        if (!r.ok) return r;
        // JSONata yields undefined for a missing path; JSON has no undefined, so drop the key.
        // Defined, not assigned: a key `__proto__` is a field of the payload, as JSON.parse
        // (and a literal payload from YAML) keeps it, never the payload's prototype.
        if (r.value !== undefined) Object.defineProperty(out, k, { value: r.value, enumerable: true, writable: true, configurable: true });
      }
      return { ok: true, value: out };
    }
    // Stryker disable next-line ConditionalExpression: exhaustive switch, checked by the compiler
    default:
      return assertNever(tpl);
  }
}

/**
 * JSONata truthiness (its `$boolean`) for `when` and `match`: false, null, undefined, 0, NaN,
 * '', an object without keys, a function, and an array of nothing but such values are false.
 */
export function truthy(value: unknown): boolean {
  // Stryker disable next-line ConditionalExpression,EqualityOperator: [].some() is false too; the length test only says it
  if (Array.isArray(value)) return value.length > 0 && value.some(truthy);
  if (typeof value === 'function') return false;
  if (typeof value === 'object' && value !== null) {
    // A JSONata lambda or built-in function is an object with one of these marks.
    if ('_jsonata_lambda' in value || '_jsonata_function' in value) return false;
    return Object.keys(value).length > 0;
  }
  return Boolean(value);
}
