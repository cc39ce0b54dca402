import jsonata from 'jsonata';
import type { Expr, ExprScope } from '../core/definition.js';
import { ExpressionLimitError, expressionLimits, guardBindings, rangeSides, warmUpEvaluator } from './expression-limits.js';
import { MAX_NESTING, treeDepth } from './nesting.js';

/** A `{% ... %}` whose JSONata does not parse; `position` is JSONata's character position. */
export class ExpressionSyntaxError extends Error {
  readonly code = 'SAGA_ERR_EXPRESSION_SYNTAX';
  constructor(
    message: string,
    readonly source: string,
    readonly position: number,
    options?: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'ExpressionSyntaxError';
  }
}

/** A `{% ... %}` that nests deeper than MAX_NESTING levels: too deep to check or to evaluate. */
export class ExpressionDepthError extends ExpressionSyntaxError {
  constructor(
    message: string,
    source: string,
    /** How deeply its syntax tree nests, when JSONata could parse it. */
    readonly depth: number | null,
    options?: { cause: unknown },
  ) {
    super(message, source, 0, options);
    this.name = 'ExpressionDepthError';
  }
}

/** An expression that failed while being evaluated against a saga's data. */
export class ExpressionEvaluationError extends Error {
  readonly code = 'SAGA_ERR_EXPRESSION_EVALUATION';
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'ExpressionEvaluationError';
  }
}

/** An expression compiled once, with the JSONata syntax tree the checks walk. */
export interface CompiledExpr {
  readonly expr: Expr;
  readonly ast: jsonata.ExprNode;
}

const wholeExpression = /^\s*\{%([\s\S]*)%\}\s*$/;

/** Pure: the JSONata inside a string that is exactly `{% ... %}`, else null. */
export function unwrapExpression(text: string): string | null {
  const m = wholeExpression.exec(text);
  return m === null ? null : (m[1] ?? '').trim();
}

// Functions whose result depends on the clock or randomness, or that evaluate text as code.
const forbidden = ['now', 'millis', 'random', 'shuffle', 'eval'] as const;
const forbiddenBindings: Record<string, () => never> = Object.fromEntries(
  forbidden.map((name) => [
    name,
    () => {
      throw new Error(`$${name}() is not allowed in saga expressions, which must be deterministic`);
    },
  ]),
);

/**
 * Pure: the forbidden functions (`$now`, `$millis`, `$random`, `$shuffle`, `$eval`) the
 * expression names, called or passed on, each once, in the order they first appear. The
 * loader refuses them; evaluated, they would throw. A name the expression binds itself is its
 * own variable where that binding is in scope: after `$now := ...` in the same block, in the
 * body of a lambda with that parameter, and in the path steps after `@$now` or `#$now`.
 */
export function forbiddenFunctions(ast: jsonata.ExprNode): string[] {
  const found = new Set<string>();
  const visit = (node: unknown, bound: ReadonlySet<string>): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n, bound);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const n = node as jsonata.ExprNode & { focus?: unknown; index?: unknown; body?: jsonata.ExprNode };
    if (n.type === 'variable') {
      if ((forbidden as readonly unknown[]).includes(n.value) && !bound.has(String(n.value))) found.add(String(n.value));
      return;
    }
    if (n.type === 'block') {
      // A binding holds from the next expression of its block on.
      const scope = new Set(bound);
      for (const e of n.expressions ?? []) {
        visit(e, scope);
        if (e.type === 'bind' && e.lhs?.type === 'variable') scope.add(String(e.lhs.value));
      }
      return;
    }
    if (n.type === 'bind') {
      visit(n.rhs, bound);
      return;
    }
    if (n.type === 'lambda') {
      visit(n.body, new Set([...bound, ...(n.arguments ?? []).map((a) => String(a.value))]));
      return;
    }
    if (n.type === 'path') {
      // `@$x` and `#$x` bind for their own step's stages and the steps after it.
      const scope = new Set(bound);
      for (const step of n.steps ?? []) {
        const s = step as jsonata.ExprNode & { focus?: unknown; index?: unknown };
        for (const v of [s.focus, s.index]) if (typeof v === 'string') scope.add(v);
        visit(step, scope);
      }
      for (const [k, v] of Object.entries(n)) if (k !== 'steps') visit(v, scope);
      return;
    }
    for (const v of Object.values(n)) visit(v, bound);
  };
  visit(ast, new Set());
  return [...found];
}

/**
 * Pure: whether the expression binds `$clone` itself (`$clone := ...`, a lambda's parameter,
 * `@$clone` or `#$clone`). JSONata's transform (`~> | ... |`) copies the value it changes
 * through whatever `$clone` names where it runs: with a function that returns its argument it
 * would change the saga's own data (its input, a step's reply) in place, in memory only, and
 * the instance would no longer replay as it ran. The loader refuses such a binding.
 */
export function bindsClone(ast: jsonata.ExprNode): boolean {
  const visit = (node: unknown): boolean => {
    if (Array.isArray(node)) return node.some(visit);
    if (node === null || typeof node !== 'object') return false;
    const n = node as jsonata.ExprNode & { focus?: unknown; index?: unknown };
    if (n.type === 'bind' && n.lhs?.type === 'variable' && n.lhs.value === 'clone') return true;
    if (n.type === 'lambda' && (n.arguments ?? []).some((a) => a.value === 'clone')) return true;
    if (n.focus === 'clone' || n.index === 'clone') return true;
    return Object.values(n).some(visit);
  };
  return visit(ast);
}

/** Compiles `{% ... %}` or bare JSONata; throws ExpressionSyntaxError when it does not parse (ExpressionDepthError when it nests too deeply). */
export function compileExprDetailed(source: string): CompiledExpr {
  const text = unwrapExpression(source) ?? source.trim();
  if (text === '') throw new ExpressionSyntaxError('the expression is empty', text, 0);
  let compiled: jsonata.Expression;
  try {
    compiled = jsonata(text);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new ExpressionDepthError(`the expression nests too deeply for JSONata to parse; at most ${MAX_NESTING} levels are read`, text, null, { cause: err });
    }
    const e = err as { message?: string; position?: number };
    const position = typeof e.position === 'number' ? e.position : 0;
    const message = `${e.message ?? String(err)} (at character ${position} of \`${text}\`)`;
    throw new ExpressionSyntaxError(message, text, position, { cause: err });
  }
  // Before any walk of the tree: the checks below, JSONata's evaluator and the loader's own
  // walkers recurse over it, and a few thousand parentheses would run them out of stack.
  const depth = treeDepth(compiled.ast());
  if (depth > MAX_NESTING) {
    throw new ExpressionDepthError(`the expression nests ${depth.toLocaleString('en-US')} levels deep; at most ${MAX_NESTING} are read`, text, depth);
  }
  const path = plainPath(compiled.ast());
  const ranges = rangeSides(compiled.ast());
  const expr: Expr = Object.freeze({
    source: text,
    evaluate(scope: ExprScope, root?: unknown): unknown {
      if (path !== null) {
        const value = walk(scope, path);
        if (value !== UNSURE) return value;
      }
      warmUpEvaluator();
      const guard = guardBindings(expressionLimits(), ranges);
      const bindings = {
        ...forbiddenBindings, ...guard, input: scope.input, steps: scope.steps, saga: scope.saga, event: scope.event,
        // A forEach element's own element and index; unbound elsewhere, where they read as undefined.
        ...(scope.index === undefined ? {} : { item: scope.item, index: scope.index }),
      };
      try {
        return compiled.evaluate(root ?? null, bindings);
      } catch (err) {
        if (err instanceof ExpressionLimitError) {
          throw new ExpressionEvaluationError(`expression {% ${text} %} stopped: ${err.message}`, { cause: err });
        }
        if (err instanceof RangeError) {
          // V8 gave up first (stack or string length): the expression's doing, reported as such.
          throw new ExpressionEvaluationError(`expression {% ${text} %} stopped: it went past what the engine allows (${err.message})`, { cause: err });
        }
        const e = err as { message?: string; position?: number };
        const at = typeof e.position === 'number' ? ` at character ${e.position}` : '';
        throw new ExpressionEvaluationError(
          `expression {% ${text} %} failed${at}: ${e.message ?? String(err)}`,
          { cause: err },
        );
      }
    },
  });
  return { expr, ast: compiled.ast() };
}

const SCOPE_VARIABLES = new Set(['input', 'steps', 'saga', 'event']);

/** `$input.a.b` and the like: a scope variable and plain field names, nothing else. */
interface PlainPath {
  readonly variable: keyof ExprScope;
  readonly names: readonly string[];
}

/** The plain path an expression is, or null when it is anything more. */
export function plainPath(ast: jsonata.ExprNode): PlainPath | null {
  const plain = (n: jsonata.ExprNode | undefined, type: string): n is jsonata.ExprNode & { value: string } =>
    n !== undefined && n.type === type && typeof n.value === 'string' && Object.keys(n).every((k) => k === 'type' || k === 'value' || k === 'position');
  if (ast.type !== 'path' || ast.steps === undefined || ast.steps.length < 2) return null;
  const [first, ...rest] = ast.steps;
  if (!plain(first, 'variable') || !SCOPE_VARIABLES.has(first.value) || !rest.every((n) => plain(n, 'name'))) return null;
  if (Object.keys(ast).some((k) => k !== 'type' && k !== 'steps' && k !== 'position')) return null;
  return { variable: first.value as keyof ExprScope, names: rest.map((n) => n.value as string) };
}

/** Marks a value the shortcut does not vouch for: JSONata evaluates the expression instead. */
export const UNSURE: unique symbol = Symbol('unsure');

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A plain path evaluated without JSONata, which costs many times as much: only through
 * objects to a field that exists, where JSONata's result is that field's value itself (an
 * array included). A path through an array (which JSONata maps over and flattens), a scalar
 * or a missing field is left to JSONata, so the result is always JSONata's; a property test
 * (test/definitions/expression.test.ts) holds the shortcut to that.
 */
export function walk(scope: ExprScope, path: PlainPath): unknown {
  let v: unknown = scope[path.variable];
  for (const name of path.names) {
    if (!isRecord(v) || !Object.hasOwn(v, name)) return UNSURE;
    v = v[name];
  }
  return v === undefined ? UNSURE : v;
}

/** Compiles `{% ... %}` (or bare JSONata) once; throws ExpressionSyntaxError with `.position`. */
export function compileExpr(source: string): Expr {
  return compileExprDetailed(source).expr;
}
