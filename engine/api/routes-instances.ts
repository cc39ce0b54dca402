/** Routes that read instances: the list, one instance, its journal. */
import type { FastifyInstance } from 'fastify';
import type { InstanceStatus } from '../core/index.js';
import type { EnginePort } from '../runtime/port.js';
import { ApiError, ApiErrorCode, noInstance } from './errors.js';
import { errorResponses, historyEntrySchema, idParams, instanceSchema, instanceStates, pageOf, pageQuery, summarySchema } from './schemas.js';
import { historyEntry, instanceDocument, instanceSummary } from './views.js';

interface ListQuery {
  saga?: string;
  state?: InstanceStatus;
  key?: string;
  correlationId?: string;
  since?: string;
  until?: string;
  limit: number;
  cursor?: string;
}

const listSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      saga: { type: 'string', minLength: 1 },
      state: { type: 'string', enum: instanceStates },
      key: { type: 'string', minLength: 1 },
      correlationId: { type: 'string', minLength: 1 },
      since: { type: 'string', minLength: 1, maxLength: 40 },
      until: { type: 'string', minLength: 1, maxLength: 40 },
      ...pageQuery,
    },
  },
  response: { 200: pageOf(summarySchema), ...errorResponses },
} as const;

const oneSchema = { params: idParams, response: { 200: instanceSchema, ...errorResponses } } as const;

const historySchema = {
  params: idParams,
  querystring: {
    type: 'object', additionalProperties: false,
    properties: { after: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
  },
  response: {
    200: {
      type: 'object', additionalProperties: false, required: ['items'],
      properties: { items: { type: 'array', items: historyEntrySchema } },
    },
    ...errorResponses,
  },
} as const;

/** `since` as epoch ms: digits are epoch ms, anything else must be an ISO 8601 time. */
export function parseSince(since: string, name = 'since'): number {
  if (/^\d{1,15}$/.test(since)) return Number(since);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(since) ? Date.parse(since) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new ApiError(ApiErrorCode.Validation, `querystring/${name} must be an ISO time or epoch milliseconds, not ${JSON.stringify(since)}`);
  }
  return ms;
}

/** Registers the reading routes; a missing instance is a 404 `SAGA_ERR_NOT_FOUND`. */
export function registerInstanceRoutes(app: FastifyInstance, engine: EnginePort): void {
  app.get<{ Querystring: ListQuery }>('/v1/instances', { schema: listSchema }, async (request) => {
    const q = request.query;
    const page = await engine.listInstances({
      saga: q.saga, status: q.state, key: q.key, correlationId: q.correlationId,
      since: q.since === undefined ? undefined : parseSince(q.since),
      until: q.until === undefined ? undefined : parseSince(q.until, 'until'), limit: q.limit, cursor: q.cursor,
    });
    return { items: page.items.map(instanceSummary), nextCursor: page.nextCursor };
  });

  app.get<{ Params: { id: string } }>('/v1/instances/:id', { schema: oneSchema }, async (request) => {
    const state = await engine.getInstance(request.params.id);
    if (state === undefined) throw noInstance(request.params.id);
    return instanceDocument(state, engine.definitionByHash(state.definitionHash), await engine.timersOf(state.id));
  });

  // `after`: only the entries after that seq (the journal is append-only: a poller asks for what is new).
  app.get<{ Params: { id: string }; Querystring: { after?: number } }>('/v1/instances/:id/history', { schema: historySchema }, async (request) => {
    const entries = await engine.history(request.params.id, request.query.after);
    // An instance always has a journal: an empty one means no instance, whatever the port returns.
    if (entries === undefined || (entries.length === 0 && (await engine.getInstance(request.params.id)) === undefined)) throw noInstance(request.params.id);
    return { items: entries.map(historyEntry) };
  });
}
