/**
 * How big a value an expression built would be once written out as JSON. JSONata can build
 * values that share parts (`{'a': $acc, 'b': $acc}` in a `$reduce` doubles at every step), so
 * a value of forty small objects can stand for a trillion: its length as an array says nothing,
 * and the first thing to write it out (the shell's JSON encoding, `$string`) would run for
 * minutes. Here a shared part is counted each time it is reached, as JSON would write it, but
 * measured once: the sizes of the objects and arrays already measured are kept, so measuring
 * is linear in the distinct objects and arrays, however often they are shared.
 */

/** The JSON form of a value, as counted: characters, values, and how deeply it nests. */
export interface ExpandedSize {
  /** Characters of its compact JSON, near enough: numbers by their shortest form, strings without escapes. */
  readonly chars: number;
  /** Values in it, itself included: every array item and object member, at every level. */
  readonly values: number;
  /** Levels of arrays and objects: 0 for a scalar. */
  readonly height: number;
}

/** The bounds one measurement enforces; `exceeded` is called (and must throw) when one is passed. */
export interface SizeBounds {
  readonly maxChars: number;
  readonly maxValues: number;
  readonly exceeded: (what: 'chars' | 'values' | 'cycle', atLeast: number) => never;
}

/** A JavaScript function, which `$string` writes as `""`. */
const FUNCTION_SIZE: ExpandedSize = Object.freeze({ chars: 2, values: 1, height: 0 });

/** A JSONata function value: a lambda, or a built-in function object. */
function isFunctionValue(v: object): boolean {
  return '_jsonata_lambda' in v || '_jsonata_function' in v;
}

function scalarChars(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return v.length + 2;
    case 'number':
      return Number.isFinite(v) ? String(v).length : 4;
    case 'boolean':
      return v ? 4 : 5;
    default:
      return 4; // null, and undefined as an array item
  }
}

/** An array or object being measured: its members still to visit and what those measured so far add up to. */
interface Frame {
  readonly node: object;
  readonly members: unknown[];
  next: number;
  chars: number;
  values: number;
  height: number;
}

/**
 * Measures values, remembering the size of every array and object measured. Pass `shared:
 * false` when the values may change between measurements (a JSONata transform `~> |...|`
 * assigns into objects it has matched): each measurement then remembers only its own.
 */
export class SizeMeter {
  private readonly memo: WeakMap<object, ExpandedSize> | null;

  constructor(shared = true) {
    this.memo = shared ? new WeakMap() : null;
  }

  /**
   * The expanded size of `value`, measured without recursion (a value may nest deeper than
   * the stack). It stops as soon as what it has seen passes a bound, or a value contains
   * itself (which JSON cannot write), through `bounds.exceeded`.
   */
  measure(value: unknown, bounds: SizeBounds): ExpandedSize {
    if (value === null || typeof value !== 'object') {
      if (typeof value === 'function') return FUNCTION_SIZE;
      return { chars: scalarChars(value), values: 1, height: 0 };
    }
    const memo = this.memo ?? new WeakMap<object, ExpandedSize>();
    const known = memo.get(value);
    if (known !== undefined) return this.within(known, bounds);
    const open = new Set<object>();
    const stack: Frame[] = [];
    // Members visited in this measurement: each adds a character at least to the value's JSON,
    // so past maxChars of them the value is too big, whatever the totals so far say.
    let visited = 0;
    const enter = (node: object): void => {
      open.add(node);
      if (isFunctionValue(node)) {
        // A lambda is an object holding its environment, its syntax tree and the value it was
        // defined on (its `input`): written out as JSON, that value is the part that may be large.
        const input = (node as { input?: unknown }).input;
        stack.push({ node, members: input === undefined ? [] : [input], next: 0, chars: 2, values: 1, height: 1 });
        return;
      }
      if (Array.isArray(node)) {
        stack.push({ node, members: node, next: 0, chars: 2 + Math.max(0, node.length - 1), values: 1, height: 1 });
        return;
      }
      const members: unknown[] = [];
      let keys = 0;
      for (const key of Object.keys(node)) {
        const v = (node as Record<string, unknown>)[key];
        if (v === undefined) continue; // JSON leaves the member out
        members.push(v);
        keys += key.length + 3 + (members.length > 1 ? 1 : 0);
      }
      stack.push({ node, members, next: 0, chars: 2 + keys, values: 1, height: 1 });
    };
    const add = (frame: Frame, size: ExpandedSize): void => {
      frame.chars += size.chars;
      frame.values += size.values;
      frame.height = Math.max(frame.height, size.height + 1);
      if (frame.chars > bounds.maxChars) bounds.exceeded('chars', frame.chars);
      if (frame.values > bounds.maxValues) bounds.exceeded('values', frame.values);
    };
    enter(value);
    for (;;) {
      const frame = stack[stack.length - 1] as Frame;
      if (frame.next < frame.members.length) {
        const member = frame.members[frame.next++];
        if (++visited > bounds.maxChars) bounds.exceeded('chars', visited);
        if (member === null || typeof member !== 'object') {
          add(frame, typeof member === 'function' ? FUNCTION_SIZE : { chars: scalarChars(member), values: 1, height: 0 });
          continue;
        }
        const size = memo.get(member);
        if (size !== undefined) {
          add(frame, size);
          continue;
        }
        if (open.has(member)) bounds.exceeded('cycle', Infinity);
        enter(member);
        continue;
      }
      stack.pop();
      open.delete(frame.node);
      const size: ExpandedSize = { chars: frame.chars, values: frame.values, height: frame.height };
      memo.set(frame.node, size);
      const parent = stack[stack.length - 1];
      if (parent === undefined) return size;
      add(parent, size);
    }
  }

  private within(size: ExpandedSize, bounds: SizeBounds): ExpandedSize {
    if (size.chars > bounds.maxChars) bounds.exceeded('chars', size.chars);
    if (size.values > bounds.maxValues) bounds.exceeded('values', size.values);
    return size;
  }
}

/** Characters of `size` written with `JSON.stringify(v, null, 2)`, at most: every value on a line of its own, indented. */
export function prettyChars(size: ExpandedSize): number {
  return size.chars + (size.values + 1) * (2 * size.height + 2);
}
