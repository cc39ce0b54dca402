/** Operator routes that maintain the store: rebuilding instance rows from the journal. */
import type { FastifyInstance } from 'fastify';
import { REBUILD_PAGE, type Rebuilder, type RebuildRequest } from '../runtime/rebuild.js';
import { errorResponses, idString } from './schemas.js';

const reportSchema = {
  type: 'object',
  required: ['id', 'changed', 'differences'],
  properties: {
    id: { type: 'string' },
    changed: { type: 'boolean' },
    differences: {
      type: 'array',
      items: { type: 'object', required: ['path', 'stored', 'rebuilt'], properties: { path: { type: 'string' }, stored: {}, rebuilt: {} } },
    },
    // Only in a page of all: the instance could not be rebuilt (nothing of it was written).
    error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;

const rebuildSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      id: idString,
      all: { type: 'boolean' },
      cursor: { type: 'string', minLength: 1, maxLength: 1000 },
      limit: { type: 'integer', minimum: 1, maximum: REBUILD_PAGE.max },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['checked', 'changed', 'items', 'nextCursor'],
      properties: {
        checked: { type: 'integer' }, changed: { type: 'integer' }, items: { type: 'array', items: reportSchema },
        nextCursor: { type: ['string', 'null'] },
      },
    },
    ...errorResponses,
  },
} as const;

/**
 * `POST /v1/admin/rebuild` with `{id}` or `{all: true, cursor?, limit?}`: rebuilds instance
 * rows (and snapshots) from the journal, the source of truth, and answers what differed
 * (`sagactl admin rebuild`). An act, so the read-only token may not call it. A second call
 * changes nothing. A page of all lists an instance that could not be rebuilt with its `error`
 * and goes on; one instance by id answers the error itself.
 */
export function registerAdminRoutes(app: FastifyInstance, engine: Rebuilder): void {
  app.post<{ Body: RebuildRequest | undefined }>('/v1/admin/rebuild', { schema: rebuildSchema }, async (request) => engine.rebuildInstances(request.body ?? {}));
}
