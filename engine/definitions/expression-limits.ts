import { performance } from 'node:perf_hooks';
import jsonata from 'jsonata';

/**
 * How far one evaluation of one expression may go. JSONata 1.8 evaluates synchronously on the
 * thread that serves everything else, so an expression that loops (on a number taken from a
 * reply, say) would stop the whole server; these limits turn that into a failed evaluation.
 */
export interface ExpressionLimits {
  /** Milliseconds of CPU one evaluation may take (SAGA_EXPR_TIMEOUT); 20 times as long in wall-clock time at most. */
  readonly timeoutMs: number;
  /** Nesting of evaluation frames: non-tail recursion grows it, and V8's stack ends near 1,300. */
  readonly maxDepth: number;
  /** Items in any array an evaluation builds, a range (`[1..n]`) included before it is built. */
  readonly maxItems: number;
  /** Characters in any string an evaluation builds. */
  readonly maxChars: number;
}

/**
 * 50 ms is a thousand times what the example sagas' expressions take and half the 100 ms in
 * which /readyz must still answer while an expression runs away; 100,000 items or 4 million
 * characters is far beyond any payload that fits a NATS message (1 MB by default), and
 * small enough that a native function over them (`$sort`, `$string`) stays within the time.
 */
export const DEFAULT_EXPRESSION_LIMITS: ExpressionLimits = Object.freeze({
  timeoutMs: 50,
  maxDepth: 500,
  maxItems: 100_000,
  maxChars: 4_000_000,
});

let current: ExpressionLimits = DEFAULT_EXPRESSION_LIMITS;

/** An evaluation is stopped after this many times its limit in wall-clock time, whatever CPU it was given. */
const WALL_FACTOR = 20;

/**
 * Sets the limits every later evaluation obeys, for the whole process: the server calls it
 * once from its configuration before it evaluates anything.
 */
export function setExpressionLimits(limits: Partial<ExpressionLimits>): void {
  current = Object.freeze({ ...DEFAULT_EXPRESSION_LIMITS, ...limits });
}

/** The limits in force. */
export function expressionLimits(): ExpressionLimits {
  return current;
}

/** An evaluation stopped by one of its limits; the message says which and how to change it. */
export class ExpressionLimitError extends Error {
  readonly code = 'SAGA_ERR_EXPRESSION_LIMIT';
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionLimitError';
  }
}

/** The `..` operators of an expression, by the nodes of their two sides. */
export interface RangeSides {
  readonly lhs: ReadonlyMap<jsonata.ExprNode, jsonata.ExprNode>;
  readonly rhs: ReadonlyMap<jsonata.ExprNode, jsonata.ExprNode>;
}

/** Pure: the sides of every range operator in a syntax tree. */
export function rangeSides(ast: jsonata.ExprNode): RangeSides {
  const lhs = new Map<jsonata.ExprNode, jsonata.ExprNode>();
  const rhs = new Map<jsonata.ExprNode, jsonata.ExprNode>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const n = node as jsonata.ExprNode;
    if (n.type === 'binary' && n.value === '..' && n.lhs !== undefined && n.rhs !== undefined) {
      lhs.set(n.lhs, n);
      rhs.set(n.rhs, n);
    }
    Object.values(n).forEach(visit);
  };
  visit(ast);
  return { lhs, rhs };
}

/**
 * The bindings that hold one evaluation to `limits`: JSONata calls `__evaluate_entry` and
 * `__evaluate_exit` around every node it evaluates (the hooks its own test suite uses to
 * timebox expressions), so a loop, a recursion or a growing result is caught between two
 * nodes. A range is checked when both its bounds are known, before JSONata allocates it.
 * Native functions whose cost is not linear in what they are given are bounded too.
 */
export function guardBindings(limits: ExpressionLimits, ranges: RangeSides): Record<string, unknown> {
  const started = performance.now();
  // The limit is on CPU time: on a loaded machine (or in a pause of the process) an expression
  // of a millisecond may take longer than the limit in wall-clock time, and failing its step
  // for that would make a deterministic decision depend on the machine's load. Wall-clock time
  // is only the cheap first check, and a bound of its own far above the limit.
  const cpuStarted = process.cpuUsage();
  let depth = 0;
  const lowerBounds = new Map<jsonata.ExprNode, unknown[]>();
  const checkTime = (): void => {
    const wall = performance.now() - started;
    if (wall <= limits.timeoutMs) return;
    const cpu = process.cpuUsage(cpuStarted);
    if ((cpu.user + cpu.system) / 1000 > limits.timeoutMs || wall > limits.timeoutMs * WALL_FACTOR) {
      throw new ExpressionLimitError(`it ran longer than ${limits.timeoutMs} ms and was stopped (the limit is SAGA_EXPR_TIMEOUT); an expression must not loop over data`);
    }
  };
  const checkSize = (result: unknown): void => {
    if (Array.isArray(result) && result.length > limits.maxItems) {
      throw new ExpressionLimitError(`it built an array of ${result.length} items, more than the ${limits.maxItems} allowed`);
    }
    if (typeof result === 'string' && result.length > limits.maxChars) {
      throw new ExpressionLimitError(`it built a string of ${result.length} characters, more than the ${limits.maxChars} allowed`);
    }
  };
  const checkRange = (range: jsonata.ExprNode, rhs: unknown): void => {
    const lower = single(lowerBounds.get(range)?.pop());
    const upper = single(rhs);
    if (typeof lower !== 'number' || typeof upper !== 'number') return; // JSONata reports a bad bound itself
    const size = upper - lower + 1;
    if (size > limits.maxItems) {
      throw new ExpressionLimitError(`the range [${lower}..${upper}] would hold ${size} items, more than the ${limits.maxItems} allowed`);
    }
  };
  return {
    __evaluate_entry: () => {
      depth++;
      if (depth > limits.maxDepth) {
        throw new ExpressionLimitError(`it nested deeper than ${limits.maxDepth} levels, as a recursion without end does; write it as a tail call or bound it`);
      }
      checkTime();
    },
    __evaluate_exit: (expr: jsonata.ExprNode, _input: unknown, _env: unknown, result: unknown) => {
      depth--;
      checkTime();
      checkSize(result);
      const asLower = ranges.lhs.get(expr);
      if (asLower !== undefined) {
        const stack = lowerBounds.get(asLower) ?? [];
        stack.push(result);
        lowerBounds.set(asLower, stack);
      }
      const asUpper = ranges.rhs.get(expr);
      if (asUpper !== undefined) checkRange(asUpper, result);
    },
    distinct: boundedDistinct(limits),
    pad: boundedPad(limits),
  };
}

let warm = false;

/**
 * Runs JSONata's evaluator once over most of its node kinds, unguarded: V8 compiles its
 * functions lazily, and the first evaluations of a fresh process take tens of milliseconds
 * for that alone, which must not count against an expression's deadline. Idempotent.
 */
export function warmUpEvaluator(): void {
  if (warm) return;
  warm = true;
  const expr = jsonata(
    '($f := function($v, $n) { $n <= 0 ? $v : $f($v, $n - 1) }; {"a": $string($f($.a, 3)) & "-" & $.b, ' +
    '"c": $count($.i[x > 1].y), "d": $sum($.i.(x * 2)), "e": $map($.i, function($e) { $e.x ? $uppercase($e.y) : $lowercase($e.y) }), ' +
    '"f": $.i^(x).y, "g": [1..3], "h": $exists($.z) or $boolean($.a) and $number("1") in [1], "k": $.i{y: x}})',
  );
  for (let i = 0; i < 3; i++) expr.evaluate({ a: 1, b: 'x', i: [{ x: 1, y: 'a' }, { x: 2, y: 'b' }] });
}

/** A path's value reaches the exit hook as a one-item sequence, unwrapped only after it. */
function single(value: unknown): unknown {
  return Array.isArray(value) && value.length === 1 ? value[0] : value;
}

/** A JSONata built-in function object: its implementation, called with `this` = the environment. */
interface NativeFunction {
  readonly implementation: (...args: unknown[]) => unknown;
  readonly signature?: unknown;
}

function native(name: string): NativeFunction {
  return jsonata(`$${name}`).evaluate(null) as NativeFunction;
}

const nativeDistinct = native('distinct');
const nativePad = native('pad');

/** Objects are compared pairwise by `$distinct`; past this many, the comparisons take too long. */
const DISTINCT_OBJECTS_MAX = 2_000;

/**
 * `$distinct` compares every item with every kept item (quadratic): primitives are kept
 * through a set instead, with the same result in the same order, and objects are limited.
 */
function boundedDistinct(limits: ExpressionLimits): NativeFunction {
  return {
    ...nativeDistinct,
    implementation(this: unknown, ...args: unknown[]) {
      const [arr] = args;
      if (!Array.isArray(arr) || arr.length <= DISTINCT_OBJECTS_MAX) return nativeDistinct.implementation.apply(this, args);
      if (arr.length > limits.maxItems) throw new ExpressionLimitError(`$distinct was given ${arr.length} items, more than the ${limits.maxItems} allowed`);
      const isObject = (v: unknown): boolean => v !== null && typeof v === 'object';
      const objects = arr.filter(isObject);
      if (objects.length > DISTINCT_OBJECTS_MAX) {
        throw new ExpressionLimitError(`$distinct was given ${objects.length} objects to compare, more than the ${DISTINCT_OBJECTS_MAX} allowed`);
      }
      const distinctObjects = new Set(nativeDistinct.implementation.call(this, objects) as unknown[]);
      const seen = new Set<unknown>();
      const out: unknown[] & { sequence?: boolean } = [];
      if ((arr as { sequence?: boolean }).sequence === true) out.sequence = true;
      for (const v of arr) {
        if (isObject(v) ? !distinctObjects.has(v) : seen.has(v)) continue;
        if (isObject(v)) distinctObjects.delete(v);
        else seen.add(v);
        out.push(v);
      }
      return out;
    },
  };
}

/** `$pad` allocates its padding in one native call: its width is checked before. */
function boundedPad(limits: ExpressionLimits): NativeFunction {
  return {
    ...nativePad,
    implementation(this: unknown, ...args: unknown[]) {
      const [, width, char] = args;
      const unit = typeof char === 'string' && char.length > 0 ? char.length : 1;
      if (typeof width === 'number' && Math.abs(width) * unit > limits.maxChars) {
        throw new ExpressionLimitError(`$pad to ${Math.abs(width)} characters is more than the ${limits.maxChars} allowed`);
      }
      return nativePad.implementation.apply(this, args);
    },
  };
}
