import type { CompiledSaga } from '../core/index.js';

/**
 * Pure: why an incoming message does not fit the saga's `schemas` for its `Type@version`, or
 * null when it fits. A type the saga declares no schema for is not checked (schemas are
 * optional); a type it declares only at other versions is a mismatch, since nothing says what
 * that version may carry.
 */
export function schemaProblem(def: CompiledSaga, type: string, version: number, payload: unknown): string | null {
  const key = `${type}@${version}`;
  const validate = def.schemas[key];
  if (validate !== undefined) {
    const problem = validate(payload);
    return problem === null ? null : `${key} does not match its schema in saga ${def.name}: ${problem}`;
  }
  const declared = Object.keys(def.schemas).filter((k) => k.slice(0, k.lastIndexOf('@')) === type);
  if (declared.length === 0) return null;
  return `${key} has no schema in saga ${def.name}, which declares ${declared.sort().join(', ')}`;
}
