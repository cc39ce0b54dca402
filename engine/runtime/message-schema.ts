import type { CompiledSaga } from '../core/index.js';

/**
 * Pure: why an incoming message does not fit the saga's `schemas` for its `Type@version`, or
 * null when it fits. A type the saga declares no schema for is not checked (schemas are
 * optional); a type it declares only at other versions is a mismatch, since nothing says what
 * that version may carry. `what` names the message in the sentence: a reply or event, or a
 * trigger's payload as the saga's input.
 */
export function schemaProblem(def: CompiledSaga, type: string, version: number, payload: unknown, what: 'message' | 'input' = 'message'): string | null {
  const key = `${type}@${version}`;
  const validate = def.schemas[key];
  if (validate !== undefined) {
    const problem = validate(payload);
    if (problem === null) return null;
    return what === 'input' ? `input does not match the ${key} schema of saga ${def.name}: ${problem}` : `${key} does not match its schema in saga ${def.name}: ${problem}`;
  }
  const declared = Object.keys(def.schemas).filter((k) => k.slice(0, k.lastIndexOf('@')) === type).sort().join(', ');
  if (declared === '') return null;
  return what === 'input'
    ? `input is ${key}, which has no schema in saga ${def.name}: it declares ${declared}`
    : `${key} has no schema in saga ${def.name}, which declares ${declared}`;
}
