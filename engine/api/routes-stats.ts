/**
 * The stats routes: instances by saga and state, timers, outbox, dead letters and lag in one
 * document; and saga-time percentiles over a window of start times.
 */
import type { FastifyInstance } from 'fastify';
import type { EnginePort, EngineStats } from '../runtime/port.js';
import type { DurationGroup } from '../store/index.js';
import { CostCache } from './cost-cache.js';
import { durationsDocument, durationsSchema } from './insight-views.js';
import { parseSince } from './routes-instances.js';
import { errorResponses, statsSchema } from './schemas.js';
import { statsDocument } from './views.js';

/** The window of `GET /v1/stats/durations` when no `since` is given. */
export const DEFAULT_DURATION_WINDOW_MS = 24 * 60 * 60 * 1000;

const durationsRoute = {
  querystring: {
    type: 'object', additionalProperties: false,
    properties: { since: { type: 'string', minLength: 1, maxLength: 40 } },
  },
  response: { 200: durationsSchema, ...errorResponses },
} as const;

/**
 * Registers `GET /v1/stats` and `GET /v1/stats/durations`, behind the bearer token like every
 * /v1 route. A read that took 250 ms or more (PostgreSQL counting a million rows) is reused for
 * ten times what it cost, at most 10 s (durations: twenty times, at most 5 min, and up to 15 min
 * old while one recomputation runs), however many clients poll; a cheaper read is always fresh.
 */
export function registerStatsRoutes(app: FastifyInstance, engine: EnginePort): void {
  const stats = new CostCache<EngineStats>();
  app.get('/v1/stats', { schema: { response: { 200: statsSchema, ...errorResponses } } }, async () =>
    statsDocument((await stats.get('stats', () => engine.stats())).value));

  // Percentiles over a day move slowly, and on PostgreSQL they read the window's rows (7 s at a
  // million under load): kept for twenty times their cost, up to 5 min, and served up to 15 min
  // old while one recomputation runs.
  const durations = new CostCache<{ since: number; groups: DurationGroup[] }>({ factor: 20, maxFreshMs: 300_000, staleMs: 900_000 });
  app.get<{ Querystring: { since?: string } }>('/v1/stats/durations', { schema: durationsRoute }, async (request) => {
    const given = request.query.since === undefined ? null : parseSince(request.query.since);
    const r = await durations.get(given === null ? 'default' : String(given), async () => {
      const since = given ?? Date.now() - DEFAULT_DURATION_WINDOW_MS;
      return { since, groups: await engine.sagaDurations(since) };
    });
    return durationsDocument(r.value.since, r.at, r.value.groups);
  });
}
