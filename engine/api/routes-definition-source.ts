/** `GET /v1/definitions/{name}/source`: the saga as YAML, rebuilt from the source stored with its hash. */
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { definitionAt } from './routes-definitions.js';
import type { EnginePort } from '../runtime/port.js';
import { errorResponses, nameParams } from './schemas.js';

/** The answer of the source route. */
export interface DefinitionSourceDocument {
  readonly name: string;
  readonly hash: string;
  /** The saga's definition as YAML, keys in the order the DSL is usually written; comments are not kept. */
  readonly yaml: string;
  /** Paths of the JSON Schema files it refers to (their text is part of the hash). */
  readonly schemaFiles: string[];
}

// The stored source is canonical JSON (keys sorted), which reads badly as YAML: `name` would
// come after `steps`. These keys come first, in this order; any other follows, sorted.
const keyOrder = [
  'name', 'description', 'pivot', 'when', 'start', 'on', 'subject', 'type', 'key', 'timeout', 'defaults', 'schemas',
  'command', 'payload', 'reply', 'success', 'failure', 'retryable', 'match', 'retry', 'maxAttempts', 'initialInterval',
  'backoffRate', 'maxInterval', 'jitter', 'wait', 'delay', 'for', 'until', 'saga', 'input', 'parallel', 'branches', 'compensate', 'steps',
];
const rank = (k: string): number => {
  const i = keyOrder.indexOf(k);
  return i === -1 ? keyOrder.length : i;
};

/** Pure: `value` with every object's keys in the DSL's usual order. */
export function dslOrdered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dslOrdered);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, dslOrdered(v)]));
}

/** Pure: the document of a stored source (`{definition, schemaFiles}` as the loader stores it). */
export function definitionSourceDocument(name: string, hash: string, source: string): DefinitionSourceDocument {
  const parsed = JSON.parse(source) as { definition?: unknown; schemaFiles?: Record<string, string> };
  return {
    name, hash, yaml: stringify(dslOrdered(parsed.definition ?? null), { lineWidth: 0 }),
    schemaFiles: Object.keys(parsed.schemaFiles ?? {}).sort(),
  };
}

const sourceSchema = {
  params: nameParams,
  querystring: {
    type: 'object', additionalProperties: false,
    properties: { hash: { type: 'string', pattern: '^[0-9a-f]{8,128}$' } },
  },
  response: {
    200: {
      type: 'object', additionalProperties: false, required: ['name', 'hash', 'yaml', 'schemaFiles'],
      properties: {
        name: { type: 'string' }, hash: { type: 'string' }, yaml: { type: 'string' },
        schemaFiles: { type: 'array', items: { type: 'string' } },
      },
    },
    ...errorResponses,
  },
} as const;

/** Registers the read-only source route; `?hash=` shows a pinned older version, as `GET /v1/definitions/{name}` does. */
export function registerDefinitionSourceRoute(app: FastifyInstance, engine: EnginePort): void {
  app.get<{ Params: { name: string }; Querystring: { hash?: string } }>('/v1/definitions/:name/source', { schema: sourceSchema }, async (request) => {
    const def = definitionAt(engine, request.params.name, request.query.hash);
    return definitionSourceDocument(def.name, def.hash, def.source);
  });
}
