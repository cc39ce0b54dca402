import type { CompiledSaga } from '../core/index.js';
import { formatDefinitionError, loadDefinitionsFile, type DefinitionError } from '../definitions/index.js';

/** A definitions file that did not load: every problem, each as `FILE:LINE:COLUMN: PATH: message. Hint`. */
export class SagaLoadError extends Error {
  readonly code = 'SAGA_ERR_DEFINITIONS';
  constructor(readonly errors: readonly DefinitionError[]) {
    super(errors.map(formatDefinitionError).join('\n'));
    this.name = 'SagaLoadError';
  }
}

/** Loads a definitions file (with its includes) and returns its sagas by name; throws SagaLoadError with every problem. */
export function loadSagas(file: string): Record<string, CompiledSaga> {
  const r = loadDefinitionsFile(file);
  if (!r.ok) throw new SagaLoadError(r.errors);
  return Object.fromEntries(r.sagas.map((s) => [s.name, s]));
}
