import { Ajv, type Options, type SchemaObject } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

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
