import type { DefinitionPath } from './errors.js';
import { MAX_NESTING } from './nesting.js';

/** A value in YAML data that JSON cannot hold, and where it is. */
export interface NonJsonValue {
  readonly path: DefinitionPath;
  readonly message: string;
  readonly hint: string;
}

/**
 * Pure: every value that would not survive a trip through JSON: NaN and the infinities
 * (`.nan`, `.inf`) and the objects of explicit tags (`!!timestamp`, `!!binary`, `!!set`).
 * A saga is stored as JSON and compiled again from it, so such a value would change meaning.
 * Walked without recursion, in document order; values below MAX_NESTING levels are not
 * visited (the loader refuses such data before, see `dataTooDeep`).
 */
export function nonJsonValues(value: unknown, path: DefinitionPath): NonJsonValue[] {
  const found: NonJsonValue[] = [];
  const pending: { value: unknown; path: DefinitionPath }[] = [{ value, path }];
  while (pending.length > 0) {
    const item = pending.pop() as { value: unknown; path: DefinitionPath };
    const problem = nonJsonValue(item.value, item.path);
    if (problem !== null) {
      found.push(problem);
      continue;
    }
    const v = item.value;
    if (v === null || typeof v !== 'object' || item.path.length - path.length >= MAX_NESTING) continue;
    const members: [string | number, unknown][] = Array.isArray(v) ? v.map((m, i) => [i, m]) : Object.entries(v);
    for (let i = members.length - 1; i >= 0; i--) {
      const [k, m] = members[i] as [string | number, unknown];
      pending.push({ value: m, path: [...item.path, k] });
    }
  }
  return found;
}

function nonJsonValue(value: unknown, path: DefinitionPath): NonJsonValue | null {
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return null;
    return { path, message: `\`${String(value)}\` is not a number JSON can hold`, hint: 'definitions are stored as JSON; write a finite number, or quote the value to keep it as text' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return null;
  const type = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return { path, message: `a ${typeof type === 'string' ? type : 'tagged'} value is not JSON data`, hint: 'definitions are stored as JSON; remove the !! tag, or quote the value to keep it as text' };
}
