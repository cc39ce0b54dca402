import { Ajv, type Options, type SchemaObject } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';
import { SagaError } from '../errors.js';
import { depthOver } from '../json-bounds.js';

// Unknown fields are refused (fastify's default drops them silently) and every problem is listed.
const common: Options = { allErrors: true, removeAdditional: false, useDefaults: true, coerceTypes: false };

/**
 * The request validator compiler: query strings, params and headers are text, so their
 * numbers are coerced (`limit=20`); a JSON body is taken as sent, so `"key": 7` is refused.
 */
export function validatorCompiler(): FastifySchemaCompiler<SchemaObject> {
  const json = new Ajv(common);
  const text = new Ajv({ ...common, coerceTypes: 'array' });
  return ({ schema, httpPart }) => (httpPart === 'body' ? json : text).compile(schema);
}

/**
 * The error for a JSON body nested deeper than `maxDepth`, or null: checked on the text before
 * it is parsed, so a body of ten thousand brackets is a 400 at once rather than a stack
 * overflow in whatever walks it later (the journal append, a schema, an expression).
 */
export function bodyTooDeep(body: string, maxDepth: number): SagaError | null {
  return depthOver(body, maxDepth) === null ? null
    : new SagaError('SAGA_ERR_JSON_TOO_DEEP', `the JSON body nests deeper than ${maxDepth} levels (SAGA_MAX_JSON_DEPTH)`);
}
