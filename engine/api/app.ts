import Fastify, { type FastifyInstance } from 'fastify';
import type { EnginePort } from '../runtime/port.js';
import type { LogFn } from '../log.js';
import { bearerAuth } from './auth.js';
import { ApiErrorCode, describeError, errorBody } from './errors.js';
import { registerActionRoutes } from './routes-actions.js';
import { registerDefinitionRoutes } from './routes-definitions.js';
import { registerDeadLetterRoutes } from './routes-dlq.js';
import { openRoutes, registerHealthRoutes } from './routes-health.js';
import { registerInstanceRoutes } from './routes-instances.js';
import { registerStatsRoutes } from './routes-stats.js';
import { validatorCompiler } from './validation.js';

export interface ApiOptions {
  /** Log requests and errors with fastify's logger (pino); default false. */
  readonly logger?: boolean;
  /** When set (and not empty), every /v1 route requires `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  /** Largest request body in bytes; default fastify's 1 MiB. */
  readonly bodyLimit?: number;
  /** Where the real error behind a 500 goes (besides fastify's logger when enabled). */
  readonly log?: LogFn;
}

/**
 * Builds the HTTP API of DESIGN section 4 over the engine port, without listening. Every
 * error, including validation, auth and unknown routes, answers `{statusCode, code, error,
 * message}` with a `SAGA_ERR_*` code and never a stack trace.
 */
export function buildApi(engine: EnginePort, opts: ApiOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ?? false,
    ...(opts.bodyLimit === undefined ? {} : { bodyLimit: opts.bodyLimit }),
  });
  app.setValidatorCompiler(validatorCompiler());

  // A POST without a body but with a JSON content type (retry, redrive) is not an error.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') done(null, undefined);
    else json(request, body as string, done);
  });

  app.setErrorHandler((err, request, reply) => {
    const { body, unexpected } = describeError(err);
    if (unexpected) {
      request.log.error({ err }, 'request failed');
      opts.log?.('error', 'HTTP request failed', { method: request.method, url: request.url, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
    return reply.code(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    return reply.code(404).send(errorBody(404, ApiErrorCode.RouteNotFound, `no route ${request.method} ${path}`));
  });
  if (opts.token !== undefined && opts.token !== '') app.addHook('onRequest', bearerAuth(opts.token, openRoutes));

  registerHealthRoutes(app, engine, opts.log);
  registerActionRoutes(app, engine);
  registerInstanceRoutes(app, engine);
  registerDefinitionRoutes(app, engine);
  registerDeadLetterRoutes(app, engine);
  registerStatsRoutes(app, engine);
  return app;
}
