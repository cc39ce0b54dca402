import type { DefinitionPath } from './errors.js';

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
 */
export function nonJsonValues(value: unknown, path: DefinitionPath): NonJsonValue[] {
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return [];
    return [{ path, message: `\`${String(value)}\` is not a number JSON can hold`, hint: 'definitions are stored as JSON; write a finite number, or quote the value to keep it as text' }];
  }
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => nonJsonValues(v, [...path, i]));
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const type = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return [{ path, message: `a ${typeof type === 'string' ? type : 'tagged'} value is not JSON data`, hint: 'definitions are stored as JSON; remove the !! tag, or quote the value to keep it as text' }];
  }
  return Object.entries(value).flatMap(([k, v]) => nonJsonValues(v, [...path, k]));
}
