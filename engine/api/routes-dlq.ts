/** Routes of the dead-letter queue: list (without bodies), show one with its body, redrive, delete. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SagaError } from '../errors.js';
import type { EnginePort } from '../runtime/port.js';
import { ANONYMOUS } from './auth.js';
import { deadLetterDocument, deadLetterSummaryDocument } from './dead-letter-view.js';
import { actOf, noBodyIsEmpty, reasonSchema } from './routes-actions.js';
import { deadLetterSchema, deadLetterSummarySchema, errorResponses, idParams, pageOf, pageQuery } from './schemas.js';

const listSchema = {
  querystring: { type: 'object', additionalProperties: false, properties: pageQuery },
  response: { 200: pageOf(deadLetterSummarySchema), ...errorResponses },
} as const;

const oneSchema = { params: idParams, response: { 200: deadLetterSchema, ...errorResponses } } as const;

const redriveSchema = {
  params: idParams,
  body: { type: 'object', additionalProperties: false, properties: { reason: reasonSchema } },
  response: { 200: deadLetterSchema, ...errorResponses },
} as const;

const deleteSchema = {
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { reason: reasonSchema } },
  response: { 204: { type: 'null' }, ...errorResponses },
} as const;

const noLetter = (id: string): SagaError => new SagaError('SAGA_ERR_NOT_FOUND', `no dead letter ${id}`);

/**
 * Registers the dead-letter routes; a missing letter is a 404 `SAGA_ERR_NOT_FOUND`, a second
 * redrive a 409 `SAGA_ERR_ALREADY_REDRIVEN`. A list page holds no bodies and is bounded by
 * size as well as count; `GET /v1/dlq/{id}` has the body. Redrive (body `{reason?}`) and
 * delete (`?reason=`) are logged with the caller's token name.
 */
export function registerDeadLetterRoutes(app: FastifyInstance, engine: EnginePort, nameOf: (request: FastifyRequest) => string = () => ANONYMOUS): void {
  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/dlq', { schema: listSchema }, async (request) => {
    const page = await engine.listDeadLetters({ limit: request.query.limit, ...(request.query.cursor === undefined ? {} : { cursor: request.query.cursor }) });
    return { items: page.items.map(deadLetterSummaryDocument), nextCursor: page.nextCursor };
  });

  app.get<{ Params: { id: string } }>('/v1/dlq/:id', { schema: oneSchema }, async (request) => {
    const letter = await engine.getDeadLetter(request.params.id);
    if (letter === undefined) throw noLetter(request.params.id);
    return deadLetterDocument(letter);
  });

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>('/v1/dlq/:id/redrive', { schema: redriveSchema, preValidation: noBodyIsEmpty }, async (request) => {
    // Checked first so a missing letter reads the same here as on GET, whatever the engine says.
    if ((await engine.getDeadLetter(request.params.id)) === undefined) throw noLetter(request.params.id);
    return deadLetterDocument(await engine.redriveDeadLetter(request.params.id, actOf(nameOf(request), request.body?.reason)));
  });

  app.delete<{ Params: { id: string }; Querystring: { reason?: string } }>('/v1/dlq/:id', { schema: deleteSchema }, async (request, reply) => {
    if (!(await engine.deleteDeadLetter(request.params.id, actOf(nameOf(request), request.query.reason)))) throw noLetter(request.params.id);
    return reply.code(204).send();
  });
}
