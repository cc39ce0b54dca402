/** Routes that act through the engine: start, cancel, retry (each resolves after its commit). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { InstanceState } from '../core/index.js';
import type { EnginePort, OperatorAct } from '../runtime/port.js';
import { ANONYMOUS } from './auth.js';
import { errorResponses, idParams, idString, instanceSchema, nameParams } from './schemas.js';
import { instanceDocument, type InstanceDocument } from './views.js';

interface StartBody {
  input: unknown;
  key?: string;
  correlationId?: string;
  id?: string;
}

const startSchema = {
  params: nameParams,
  headers: { type: 'object', properties: { 'idempotency-key': idString } },
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['input'],
    properties: { input: {}, key: idString, correlationId: idString, id: idString },
  },
  response: { 200: instanceSchema, 201: instanceSchema, ...errorResponses },
} as const;

/** An optional operator's reason: one line of printable text (empty counts as none: the console sends what was typed). */
export const reasonSchema = { type: 'string', maxLength: 1000, pattern: '^[^\\u0000-\\u001f\\u007f]*$' } as const;

const cancelSchema = {
  params: idParams,
  body: {
    type: 'object', additionalProperties: false, required: ['reason'],
    // Required, so not blank; and one line of printable text, as every reason.
    properties: { reason: { type: 'string', minLength: 1, maxLength: 1000, pattern: '^[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f][^\\u0000-\\u001f\\u007f]*$' } },
  },
  response: { 200: instanceSchema, ...errorResponses },
} as const;

/** Pure: the act of `by`, with the reason when one was given. */
export function actOf(by: string, reason: string | undefined): OperatorAct {
  return { by, ...(reason === undefined || reason.trim() === '' ? {} : { reason }) };
}

/** A preValidation hook: a request without a body is validated as `{}` (retry and redrive take an optional `{reason}`). */
export async function noBodyIsEmpty(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

// Retry takes no body, or `{reason}` for the journal.
const retrySchema = {
  params: idParams,
  body: { type: 'object', additionalProperties: false, properties: { reason: reasonSchema } },
  response: { 200: instanceSchema, ...errorResponses },
} as const;

/**
 * Registers the acting routes; every failure surfaces as the engine's `SagaError`. Cancel and
 * retry are journaled in the instance's history with the caller's token name (`nameOf`).
 */
export function registerActionRoutes(app: FastifyInstance, engine: EnginePort, nameOf: (request: FastifyRequest) => string = () => ANONYMOUS): void {
  const document = async (state: InstanceState): Promise<InstanceDocument> =>
    instanceDocument(state, engine.definitionByHash(state.definitionHash), await engine.timersOf(state.id));

  app.post<{ Params: { name: string }; Body: StartBody; Headers: { 'idempotency-key'?: string } }>(
    '/v1/sagas/:name/instances', { schema: startSchema }, async (request, reply) => {
      const { input, key, correlationId } = request.body;
      const id = request.body.id ?? request.headers['idempotency-key'];
      const { traceparent, tracestate } = request.headers;
      const trace = typeof traceparent === 'string' ? { traceparent, tracestate: typeof tracestate === 'string' ? tracestate : undefined } : undefined;
      const outcome = await engine.start({ saga: request.params.name, input, key, correlationId, id, trace });
      if (outcome.created) void reply.header('location', `/v1/instances/${encodeURIComponent(outcome.state.id)}`);
      return reply.code(outcome.created ? 201 : 200).send(await document(outcome.state));
    });

  app.post<{ Params: { id: string }; Body: { reason: string } }>(
    '/v1/instances/:id/cancel', { schema: cancelSchema },
    async (request) => document(await engine.cancel(request.params.id, request.body.reason, nameOf(request))));

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
    '/v1/instances/:id/retry', { schema: retrySchema, preValidation: noBodyIsEmpty },
    async (request) => {
      return document(await engine.retry(request.params.id, actOf(nameOf(request), request.body?.reason)));
    });
}
