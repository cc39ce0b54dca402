/** The stats route: instances by saga and state, timers, outbox, dead letters and lag in one document. */
import type { FastifyInstance } from 'fastify';
import type { EnginePort, EngineStats } from '../runtime/port.js';
import { errorResponses, statsSchema } from './schemas.js';

/** `GET /v1/stats`; `consumerLag` is null when nobody measured it (a database read offline). */
export interface StatsDocument {
  readonly instances: { readonly saga: string; readonly state: string; readonly count: number }[];
  readonly timersPending: number;
  readonly outboxBacklog: number;
  readonly deadLetters: number;
  readonly consumerLag: number | null;
}

/** Pure: the stats document of the engine's (or a store's) counts. */
export function statsDocument(s: Omit<EngineStats, 'consumerLag'> & { readonly consumerLag: number | null }): StatsDocument {
  return {
    instances: s.instances.map((r) => ({ saga: r.saga, state: r.state, count: r.count })),
    timersPending: s.timersPending, outboxBacklog: s.outboxBacklog, deadLetters: s.deadLetters, consumerLag: s.consumerLag,
  };
}

/** Registers `GET /v1/stats`, behind the bearer token like every /v1 route. */
export function registerStatsRoutes(app: FastifyInstance, engine: EnginePort): void {
  app.get('/v1/stats', { schema: { response: { 200: statsSchema, ...errorResponses } } }, async () => statsDocument(await engine.stats()));
}
