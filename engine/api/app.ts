import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { EnginePort } from '../runtime/port.js';
import type { LogFn } from '../log.js';
import { defaultInputLimits, MAX_ID_LENGTH, parseJson, PrototypeKeyError } from '../json-bounds.js';
import { isLoopback } from '../config.js';
import { accessResolver, bearerAuth, callerName, sameMachineOnly, tokensRequired, type NamedToken } from './auth.js';
import { answerClientError, ApiError, ApiErrorCode, describeError, errorBody, isClientGone } from './errors.js';
import type { Rebuilder } from '../runtime/rebuild.js';
import { registerActionRoutes } from './routes-actions.js';
import { registerAdminRoutes } from './routes-admin.js';
import { registerDefinitionRoutes } from './routes-definitions.js';
import { registerDeadLetterRoutes } from './routes-dlq.js';
import { openRoutes, registerHealthRoutes } from './routes-health.js';
import { registerInstanceRoutes } from './routes-instances.js';
import { registerStatsRoutes } from './routes-stats.js';
import { registerDefinitionSourceRoute } from './routes-definition-source.js';
import { registerUiRoutes, uiRoutes } from './routes-ui.js';
import { Access, registerWhoamiRoute } from './routes-whoami.js';
import { bodyTooDeep, validatorCompiler } from './validation.js';

export interface ApiOptions {
  /** Log requests and errors with fastify's logger (pino); default false. */
  readonly logger?: boolean;
  /**
   * fastify's own logger: sagad passes its pino logger, so fastify's lines are its lines. With
   * it, fastify's two info lines per request give way to one debug line (`HTTP request`).
   */
  readonly loggerInstance?: FastifyBaseLogger;
  /** Told of every answered request: method, route pattern (not the URL), status, seconds. */
  readonly onAnswered?: (method: string, route: string, status: number, seconds: number) => void;
  /** When set (and not empty), every /v1 route requires `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  /** With `token`: a second token that may only GET (and HEAD); other methods answer 403. */
  readonly readToken?: string | undefined;
  /** False: /metrics needs a token too (default true: open, like the probes). */
  readonly metricsPublic?: boolean;
  /** Serve HTTPS with this certificate and key (PEM text). */
  readonly https?: { readonly cert: string | Buffer; readonly key: string | Buffer } | undefined;
  /** Largest request body in bytes; default fastify's 1 MiB. */
  readonly bodyLimit?: number;
  /** Deepest JSON nesting of a body; deeper is a 400 SAGA_ERR_JSON_TOO_DEEP before it is parsed (default 64). */
  readonly maxJsonDepth?: number;
  /** More admin tokens, each with the name the journal records with its operator actions. */
  readonly namedTokens?: readonly NamedToken[];
  /** Where the real error behind a 500 goes (besides fastify's logger when enabled). */
  readonly log?: LogFn;
  /** Directory of the built web console served at /ui; default `dist/ui` of this package. */
  readonly uiDir?: string;
  /** Serves `POST /v1/admin/rebuild` over it (sagad passes its engine). */
  readonly rebuilder?: Rebuilder;
  /** The API listens on a loopback address (SAGA_HTTP_HOST); default true. Without tokens, only loopback Host names are then answered. */
  readonly loopbackListener?: boolean;
  /** Longest time to receive a whole request, headers and body, ms; default 30 s (a slow body holds no connection longer). */
  readonly requestTimeoutMs?: number;
}

/**
 * Builds the HTTP API of DESIGN section 4 over the engine port, without listening. Every
 * error, including validation, auth and unknown routes, answers `{statusCode, code, error,
 * message}` with a `SAGA_ERR_*` code and never a stack trace.
 */
export function buildApi(engine: EnginePort, opts: ApiOptions = {}): FastifyInstance {
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  // Node checks the request and header timeouts only every connectionsCheckingInterval (30 s by
  // default), and gives the headers 60 s: a request trickled in got its 408 after 55 to 85 s.
  const timeouts = { connectionsCheckingInterval: 1_000, headersTimeout: requestTimeout, requestTimeout };
  // HTTPS changes only the server fastify creates, not the routes: its type is the HTTP one's.
  const app = Fastify({
    ...(opts.loggerInstance === undefined ? { logger: opts.logger ?? false } : { loggerInstance: opts.loggerInstance, logController: new LogController({ disableRequestLogging: true }) }),
    clientErrorHandler: answerClientError,
    // A URL the router cannot read (bad escape, a parameter over 100 characters) gets a body with a SAGA_ERR code like any other error.
    frameworkErrors: (error, _request, reply) => {
      const { body } = describeError(error);
      // The option's reply is typed for any route's schema; this one answers the plain error body.
      void (reply as unknown as FastifyReply).code(body.statusCode).send(body);
    },
    ...(opts.bodyLimit === undefined ? {} : { bodyLimit: opts.bodyLimit }),
    requestTimeout,
    http: timeouts,
    // An id may be MAX_ID_LENGTH characters, each up to a dozen in a URL once percent-encoded.
    routerOptions: { maxParamLength: 12 * MAX_ID_LENGTH },
    ...(opts.https === undefined ? {} : { https: { cert: opts.https.cert, key: opts.https.key, ...timeouts } }),
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler());

  // A POST without a body but with a JSON content type (retry, redrive) is not an error.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') return done(null, undefined);
    const deep = bodyTooDeep(body as string, opts.maxJsonDepth ?? defaultInputLimits.maxDepth);
    if (deep !== null) return done(deep, undefined);
    // A prototype key is refused as in a message over NATS, saying why (fastify's own parser
    // calls it not valid JSON); bad JSON gets fastify's answer.
    let value: unknown;
    try {
      value = parseJson(body as string);
    } catch (err) {
      if (err instanceof PrototypeKeyError) return done(new ApiError(ApiErrorCode.BadRequest, `the body is not taken: ${err.message}`), undefined);
      return json(request, body as string, done);
    }
    return done(null, value);
  });

  app.setErrorHandler((err, request, reply) => {
    const { body, unexpected } = describeError(err);
    if (isClientGone(err)) opts.log?.('debug', 'HTTP client went away before its request was read', { method: request.method, url: request.url });
    if (unexpected) {
      // One line: sagad's log and fastify's are the same pino logger when both are given.
      if (opts.log === undefined) request.log.error({ err }, 'request failed');
      else opts.log('error', 'HTTP request failed', { method: request.method, url: request.url, reqId: request.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
    return reply.code(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    return reply.code(404).send(errorBody(404, ApiErrorCode.RouteNotFound, `no route ${request.method} ${path}`));
  });
  const tokens = { admin: opts.token, read: opts.readToken, named: opts.namedTokens };
  const tokenRequired = tokensRequired(tokens);
  if (tokenRequired) {
    // The console's assets load before sign-in; every /v1 route needs the token.
    const open = new Set([...openRoutes, ...uiRoutes].filter((r) => opts.metricsPublic !== false || r !== '/metrics'));
    app.addHook('onRequest', bearerAuth(tokens, open));
  } else {
    app.addHook('onRequest', sameMachineOnly(opts.loopbackListener ?? true, isLoopback));
  }

  // No id, name, filter or cursor holds a NUL: PostgreSQL refuses one in any text parameter
  // (a 500 and an error line per request), SQLite would merely find nothing.
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.includes('\u0000') || /%00/i.test(request.url)) {
      return reply.code(400).send(errorBody(400, ApiErrorCode.Validation, 'the URL holds a NUL character (%00): no id, name, filter or cursor contains one'));
    }
    return undefined;
  });

  if (opts.loggerInstance !== undefined || opts.onAnswered !== undefined) {
    const answered = opts.onAnswered;
    app.addHook('onResponse', async (request, reply) => {
      // The pattern bounds the series: /v1/instances/:id, not one route per instance.
      const route = request.routeOptions.url ?? 'unmatched';
      answered?.(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
      request.log.debug({ method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'HTTP request');
    });
  }

  registerHealthRoutes(app, engine, opts.log);
  const nameOf = callerName(tokens);
  registerActionRoutes(app, engine, nameOf);
  registerInstanceRoutes(app, engine);
  registerDefinitionRoutes(app, engine);
  registerDeadLetterRoutes(app, engine, nameOf);
  registerStatsRoutes(app, engine);
  registerDefinitionSourceRoute(app, engine);
  if (opts.rebuilder !== undefined) registerAdminRoutes(app, opts.rebuilder);
  const access = accessResolver(tokens);
  // The auth hook let only valid tokens through: the read-only one reads, any other operates.
  registerWhoamiRoute(app, tokenRequired, (request) => (access(request.headers.authorization) === 'read' ? Access.Read : Access.Operate));
  registerUiRoutes(app, opts.uiDir);
  return app;
}
