import { performance } from 'node:perf_hooks';
import jsonata from 'jsonata';
import { prettyChars, SizeMeter } from './expanded-size.js';
import type { SizeBounds } from './expanded-size.js';

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

/** What the guard needs to know of an expression's syntax tree, found once when it is compiled. */
export interface RangeSides {
  /** The `..` operators, by the nodes of their two sides. */
  readonly lhs: ReadonlyMap<jsonata.ExprNode, jsonata.ExprNode>;
  readonly rhs: ReadonlyMap<jsonata.ExprNode, jsonata.ExprNode>;
  /** The operands of `&`, which JSONata writes out as JSON text when they are not strings. */
  readonly concat?: ReadonlySet<jsonata.ExprNode>;
  /** The expression has a transform (`~> |...|`), which assigns into the objects it matched. */
  readonly mutates?: boolean;
}

/** Pure: the sides of every range operator in a syntax tree, the operands of `&` and whether it transforms. */
export function rangeSides(ast: jsonata.ExprNode): RangeSides {
  const lhs = new Map<jsonata.ExprNode, jsonata.ExprNode>();
  const rhs = new Map<jsonata.ExprNode, jsonata.ExprNode>();
  const concat = new Set<jsonata.ExprNode>();
  let mutates = false;
  // Without recursion: the loader bounds how deeply a tree nests (nesting.ts), but this must not depend on it.
  const pending: unknown[] = [ast];
  const seen = new Set<object>();
  while (pending.length > 0) {
    const node = pending.pop();
    if (node === null || typeof node !== 'object' || seen.has(node)) continue;
    seen.add(node);
    if (Array.isArray(node)) {
      pending.push(...(node as unknown[]));
      continue;
    }
    const n = node as jsonata.ExprNode;
    if (n.type === 'binary' && n.lhs !== undefined && n.rhs !== undefined) {
      if (n.value === '..') {
        lhs.set(n.lhs, n);
        rhs.set(n.rhs, n);
      } else if (n.value === '&') {
        concat.add(n.lhs);
        concat.add(n.rhs);
      }
    }
    if (n.type === 'transform') mutates = true;
    pending.push(...Object.values(n));
  }
  return { lhs, rhs, concat, mutates };
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
  // The time of the previous check: a gap far beyond the limit is one call that could not be interrupted.
  let checked = started;
  const checkTime = (): void => {
    const now = performance.now();
    const gap = now - checked;
    checked = now;
    const wall = now - started;
    if (wall <= limits.timeoutMs) return;
    const cpu = process.cpuUsage(cpuStarted);
    if ((cpu.user + cpu.system) / 1000 > limits.timeoutMs || wall > limits.timeoutMs * WALL_FACTOR) {
      const single = gap > limits.timeoutMs * WALL_FACTOR
        ? `; one call in it ran ${Math.round(gap)} ms before it could be stopped (a native call such as a regular expression that backtracks runs to its end: keep $match, $replace and $split patterns simple)`
        : '; an expression must not loop over data';
      throw new ExpressionLimitError(`it ran longer than ${limits.timeoutMs} ms and was stopped (the limit is SAGA_EXPR_TIMEOUT)${single}`);
    }
  };
  // Sizes are remembered for the whole evaluation, unless a transform may change a value after
  // it was measured: then each measurement is on its own, and every result is measured.
  const mutates = ranges.mutates === true;
  const meter = new SizeMeter(!mutates);
  const bounds = builtBounds(limits);
  const checkSize = (expr: jsonata.ExprNode, result: unknown): void => {
    if (Array.isArray(result) && result.length > limits.maxItems) {
      throw new ExpressionLimitError(`it built an array of ${result.length} items, more than the ${limits.maxItems} allowed`);
    }
    if (typeof result === 'string' && result.length > limits.maxChars) {
      throw new ExpressionLimitError(`it built a string of ${result.length} characters, more than the ${limits.maxChars} allowed`);
    }
    if (result === null || typeof result !== 'object') return;
    if (ranges.concat?.has(expr) === true) writable(meter, limits, '&', result, false);
    // A variable or a field holds a value measured when it was built, or a part of one, or the
    // saga's own data: measuring it again would walk all of $input for `$input.a`.
    if (!mutates && (expr.type === 'variable' || expr.type === 'name') && !Object.hasOwn(expr, 'group')) return;
    meter.measure(result, bounds);
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
      checkSize(expr, result);
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
    string: boundedWriter(meter, limits, nativeString, (args) => args[1] === true),
    // A transform clones the value it changes through `$clone`, the one bound here.
    clone: boundedWriter(meter, limits, nativeClone, () => false),
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
const nativeString = native('string');
const nativeClone = native('clone');

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

/** What any value an evaluation builds may come to as JSON, its shared parts counted each time. */
function builtBounds(limits: ExpressionLimits): SizeBounds {
  return {
    maxChars: limits.maxChars,
    maxValues: Infinity,
    exceeded: (what, atLeast) => {
      if (what === 'cycle') throw new ExpressionLimitError('it built a value that contains itself, which JSON cannot hold');
      throw new ExpressionLimitError(`it built a value of ${atLeast} characters or more as JSON (a part it repeats counts each time), more than the ${limits.maxChars} allowed`);
    },
  };
}

/**
 * Checks, before a native function writes `value` out as JSON text (`$string`, `$clone`, the
 * operands of `&`), that the text stays within the limits: JSONata's writer calls a function
 * for every value (about a microsecond each), in one call that no limit can interrupt.
 */
function writable(meter: SizeMeter, limits: ExpressionLimits, what: string, value: unknown, pretty: boolean): void {
  const size = meter.measure(value, {
    maxChars: limits.maxChars,
    maxValues: limits.maxItems,
    exceeded: (kind, atLeast) => {
      if (kind === 'cycle') throw new ExpressionLimitError(`${what} was given a value that contains itself, which JSON cannot hold`);
      if (kind === 'values') throw new ExpressionLimitError(`${what} was given ${atLeast} values or more to write, more than the ${limits.maxItems} allowed`);
      throw new ExpressionLimitError(`${what} would write ${atLeast} characters or more, more than the ${limits.maxChars} allowed`);
    },
  });
  if (pretty && prettyChars(size) > limits.maxChars) {
    throw new ExpressionLimitError(`${what} would write up to ${prettyChars(size)} characters with indentation, more than the ${limits.maxChars} allowed`);
  }
}

/** A native function that writes its first argument out as JSON (`$string`, `$clone`), its text bounded before it is written. */
function boundedWriter(meter: SizeMeter, limits: ExpressionLimits, fn: NativeFunction, pretty: (args: unknown[]) => boolean): NativeFunction {
  const name = fn === nativeString ? '$string' : '$clone';
  return {
    ...fn,
    implementation(this: unknown, ...args: unknown[]) {
      writable(meter, limits, name, args[0], pretty(args));
      return fn.implementation.apply(this, args);
    },
  };
}
