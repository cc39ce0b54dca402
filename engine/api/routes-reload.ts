/**
 * `POST /v1/definitions/reload`: reloads the definitions file (as SIGHUP does) and answers what
 * changed, or 422 `SAGA_ERR_RELOAD_REFUSED` with every error of an invalid file.
 * `GET /v1/definition-sources`: the loaded definitions as stored (for `sagactl defs diff --server`).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CompiledSaga } from '../core/index.js';
import { statusOf } from '../error-codes.js';
import type { ReloadActor, ReloadOutcome } from '../runtime/reload.js';
import { ANONYMOUS } from './auth.js';
import { actOf, noBodyIsEmpty, reasonSchema } from './routes-actions.js';
import { errorResponses } from './schemas.js';

const version = { type: 'object', additionalProperties: false, required: ['name', 'hash'], properties: { name: { type: 'string' }, hash: { type: 'string' } } };

const reloadSchema = {
  // No body, or `{reason}` for the log, as retry and redrive take.
  body: { type: 'object', additionalProperties: false, properties: { reason: reasonSchema } },
  response: {
    200: {
      type: 'object', additionalProperties: false, required: ['added', 'removed', 'changed', 'unchanged', 'subjects'],
      properties: {
        added: { type: 'array', items: version },
        removed: { type: 'array', items: version },
        changed: {
          type: 'array',
          items: { type: 'object', additionalProperties: false, required: ['name', 'oldHash', 'newHash'], properties: { name: { type: 'string' }, oldHash: { type: 'string' }, newHash: { type: 'string' } } },
        },
        unchanged: { type: 'array', items: { type: 'string' } },
        subjects: { type: 'array', items: { type: 'string' } },
      },
    },
    422: {
      type: 'object', additionalProperties: false, required: ['statusCode', 'code', 'error', 'message', 'errors'],
      properties: {
        statusCode: { type: 'integer' }, code: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' },
        errors: { type: 'array', items: { type: 'string' } },
      },
    },
    ...errorResponses,
  },
} as const;

const sourcesSchema = {
  response: {
    200: {
      type: 'object', additionalProperties: false, required: ['items'],
      properties: {
        items: {
          type: 'array',
          items: { type: 'object', additionalProperties: false, required: ['name', 'hash', 'source'], properties: { name: { type: 'string' }, hash: { type: 'string' }, source: { type: 'string' } } },
        },
      },
    },
    ...errorResponses,
  },
} as const;

/** Pure: a token's fingerprint for the log (`sha256:` and 12 hex digits), never the token itself. */
export function tokenFingerprint(authorization: string | undefined): string | undefined {
  const token = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
  return token === undefined ? undefined : `sha256:${createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12)}`;
}

/** Registers the reload routes; the API's auth hook already admitted the caller (the read-only token may not POST). */
export function registerReloadRoutes(
  app: FastifyInstance, reload: (actor: ReloadActor) => Promise<ReloadOutcome>, current: () => readonly CompiledSaga[], nameOf?: (request: FastifyRequest) => string,
): void {
  app.post<{ Body: { reason?: string } }>('/v1/definitions/reload', { schema: reloadSchema, preValidation: noBodyIsEmpty }, async (request, reply) => {
    const token = tokenFingerprint(request.headers.authorization);
    // Logged as other operator actions are journaled: the token's name and the reason given.
    const act = actOf(nameOf?.(request) ?? ANONYMOUS, request.body.reason);
    const outcome = await reload({ via: 'http', remote: request.ip, ...(token === undefined ? {} : { token }), ...act });
    if (outcome.ok) return outcome.diff;
    const n = outcome.errors.length;
    return reply.code(statusOf('SAGA_ERR_RELOAD_REFUSED')).send({
      statusCode: 422, code: 'SAGA_ERR_RELOAD_REFUSED', error: 'Unprocessable Entity',
      message: `the definitions file has ${n} problem${n === 1 ? '' : 's'}; the loaded definitions stay`, errors: outcome.errors,
    });
  });

  app.get('/v1/definition-sources', { schema: sourcesSchema }, async () => ({
    items: current().map((s) => ({ name: s.name, hash: s.hash, source: s.source })),
  }));
}
