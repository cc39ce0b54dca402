/** Routes of the dead-letter queue: list, show, redrive, delete. */
import type { FastifyInstance } from 'fastify';
import { SagaError } from '../errors.js';
import type { EnginePort } from '../runtime/port.js';
import { deadLetterDocument } from './dead-letter-view.js';
import { deadLetterSchema, errorResponses, idParams, pageOf, pageQuery } from './schemas.js';

const listSchema = {
  querystring: { type: 'object', additionalProperties: false, properties: pageQuery },
  response: { 200: pageOf(deadLetterSchema), ...errorResponses },
} as const;

const oneSchema = { params: idParams, response: { 200: deadLetterSchema, ...errorResponses } } as const;

const deleteSchema = { params: idParams, response: { 204: { type: 'null' }, ...errorResponses } } as const;

const noLetter = (id: string): SagaError => new SagaError('SAGA_ERR_NOT_FOUND', `no dead letter ${id}`);

/** Registers the dead-letter routes; a missing letter is a 404 `SAGA_ERR_NOT_FOUND`. */
export function registerDeadLetterRoutes(app: FastifyInstance, engine: EnginePort): void {
  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/dlq', { schema: listSchema }, async (request) => {
    const page = await engine.listDeadLetters({ limit: request.query.limit, ...(request.query.cursor === undefined ? {} : { cursor: request.query.cursor }) });
    return { items: page.items.map(deadLetterDocument), nextCursor: page.nextCursor };
  });

  app.get<{ Params: { id: string } }>('/v1/dlq/:id', { schema: oneSchema }, async (request) => {
    const letter = await engine.getDeadLetter(request.params.id);
    if (letter === undefined) throw noLetter(request.params.id);
    return deadLetterDocument(letter);
  });

  app.post<{ Params: { id: string } }>('/v1/dlq/:id/redrive', { schema: oneSchema }, async (request) => {
    // Checked first so a missing letter reads the same here as on GET, whatever the engine says.
    if ((await engine.getDeadLetter(request.params.id)) === undefined) throw noLetter(request.params.id);
    return deadLetterDocument(await engine.redriveDeadLetter(request.params.id));
  });

  app.delete<{ Params: { id: string } }>('/v1/dlq/:id', { schema: deleteSchema }, async (request, reply) => {
    if (!(await engine.deleteDeadLetter(request.params.id))) throw noLetter(request.params.id);
    return reply.code(204).send();
  });
}
