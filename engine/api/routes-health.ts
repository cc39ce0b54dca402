/** Liveness, readiness and metrics: open without a token, quiet in the log (probes call them often). */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { EnginePort, Readiness } from '../runtime/port.js';
import type { LogFn } from '../log.js';
import { CostCache } from './cost-cache.js';
import { errorResponses, readinessSchema } from './schemas.js';

/** The Prometheus text exposition format's content type. */
export const metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';

/** Route patterns reachable without the bearer token. */
export const openRoutes: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

function readiness(engine: EnginePort, logger: FastifyBaseLogger, log: LogFn | undefined): Readiness {
  try {
    return engine.readiness();
  } catch (err) {
    if (log === undefined) logger.error({ err }, 'readiness check failed');
    else log('error', 'readiness check failed', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    return { ready: false, checks: { engine: { ok: false, detail: `readiness check failed: ${err instanceof Error ? err.message : String(err)}` } } };
  }
}

/** Registers /healthz (200 while serving), /readyz (200 or 503) and /metrics. */
export function registerHealthRoutes(app: FastifyInstance, engine: EnginePort, log?: LogFn): void {
  const quiet = { logLevel: 'warn' } as const;

  app.get('/healthz', {
    ...quiet,
    schema: { response: { 200: { type: 'object', additionalProperties: false, required: ['status'], properties: { status: { type: 'string' } } } } },
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', { ...quiet, schema: { response: { 200: readinessSchema, 503: readinessSchema } } }, async (request, reply) => {
    const r = readiness(engine, request.log, log);
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not_ready', ready: r.ready, checks: r.checks });
  });

  // The gauges count instances: at a million rows on PostgreSQL a scrape costs a second of
  // the database. Open to anyone by default, /metrics is then answered from a copy as old as
  // ten times its cost (10 s at most), and callers meanwhile share one read; a cheap one is
  // always fresh (cost-cache.ts).
  const scrapes = new CostCache<string>();
  app.get('/metrics', { ...quiet, schema: { response: { 200: { type: 'string' }, ...errorResponses } } }, async (request, reply) =>
    reply.type(metricsContentType).send((await scrapes.get('metrics', () => engine.metrics())).value));
}
