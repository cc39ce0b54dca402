/**
 * Saga definitions: YAML files checked against a JSON Schema and compiled into the
 * CompiledSaga form the core reads, with every problem located by file, line and column.
 */
export { formatDefinitionError, formatPath } from './errors.js';
export type { DefinitionError } from './errors.js';
export { loadDefinitionsFile, loadDefinitionsText } from './loader.js';
export type { LoadResult } from './loader.js';
export { compileSagaSource, STORED_DEFINITION } from './stored.js';
export type { SourceResult } from './stored.js';
export { compileExpr, ExpressionEvaluationError, ExpressionSyntaxError } from './expression.js';
export { parseDuration } from './duration.js';
export { compilePayloadSchema } from './payload-schemas.js';
export { BUILT_IN_RETRY } from './retry.js';
export { definitionsSchema } from './dsl-schema.js';
