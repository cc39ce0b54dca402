/** Routes that show the loaded saga definitions with their content hashes. */
import type { FastifyInstance } from 'fastify';
import { SagaError } from '../errors.js';
import type { CompiledSaga } from '../core/index.js';
import type { EnginePort } from '../runtime/port.js';
import type { VersionCount } from '../store/index.js';
import { CostCache } from './cost-cache.js';
import { definitionDetail, definitionSummary } from './definition-view.js';
import { versionsDocument, versionsSchema } from './insight-views.js';
import { definitionDetailSchema, definitionSummarySchema, errorResponses, nameParams } from './schemas.js';

const listSchema = {
  response: {
    200: {
      type: 'object', additionalProperties: false, required: ['items'],
      properties: { items: { type: 'array', items: definitionSummarySchema } },
    },
    ...errorResponses,
  },
} as const;

const oneSchema = {
  params: nameParams,
  querystring: {
    type: 'object', additionalProperties: false,
    properties: { hash: { type: 'string', pattern: '^[0-9a-f]{8,128}$' } },
  },
  response: { 200: definitionDetailSchema, ...errorResponses },
} as const;

/**
 * The definition `GET /v1/definitions/{name}` and its `/source` show: the current one, or with
 * `hash` the one whose hash is or starts with it (the lists show 12 characters), among those
 * this process holds. A prefix that fits several is refused with their hashes.
 */
export function definitionAt(engine: EnginePort, name: string, hash: string | undefined): CompiledSaga {
  if (hash === undefined) {
    const current = engine.definitions().find((d) => d.name === name);
    if (current === undefined) throw new SagaError('SAGA_ERR_UNKNOWN_SAGA', `no saga ${name}`);
    return current;
  }
  const found = engine.definitionsOf(name).filter((d) => d.hash.startsWith(hash));
  if (found.length > 1) {
    throw new SagaError('SAGA_ERR_VALIDATION',
      `hash ${hash} is the start of ${found.length} definitions of saga ${name} (${found.map((d) => d.hash).sort().join(', ')}): give more of it`);
  }
  const [def] = found;
  if (def === undefined) throw new SagaError('SAGA_ERR_UNKNOWN_SAGA', `no definition of saga ${name} with a hash that is or starts with ${hash}`);
  return def;
}

const versionsRoute = { params: nameParams, response: { 200: versionsSchema, ...errorResponses } } as const;

/**
 * Registers the definition routes; `?hash=` (or its start) shows a pinned older version of the saga, and
 * `/versions` how many instances run each version (exact; a read of 250 ms or more, as on
 * PostgreSQL with a million instances of the saga, is reused for ten times its cost, at most 30 s).
 */
export function registerDefinitionRoutes(app: FastifyInstance, engine: EnginePort): void {
  app.get('/v1/definitions', { schema: listSchema }, async () => ({ items: engine.definitions().map(definitionSummary) }));

  app.get<{ Params: { name: string }; Querystring: { hash?: string } }>('/v1/definitions/:name', { schema: oneSchema }, async (request) => {
    return definitionDetail(definitionAt(engine, request.params.name, request.query.hash));
  });

  const versions = new CostCache<VersionCount[]>({ maxFreshMs: 30_000 });
  app.get<{ Params: { name: string } }>('/v1/definitions/:name/versions', { schema: versionsRoute }, async (request) => {
    const { name } = request.params;
    const current = engine.definitions().find((d) => d.name === name)?.hash ?? null;
    const counts = (await versions.get(name, () => engine.definitionVersions(name))).value;
    if (current === null && counts.length === 0) throw new SagaError('SAGA_ERR_UNKNOWN_SAGA', `no saga ${name}, and no instance of one`);
    return versionsDocument(name, current, counts);
  });
}
