/** The stats route: instances by saga and state, timers, outbox, dead letters and lag in one document. */
import type { FastifyInstance } from 'fastify';
import type { EnginePort } from '../runtime/port.js';
import { statsDocument } from './views.js';
import { errorResponses, statsSchema } from './schemas.js';

/** Registers `GET /v1/stats`, behind the bearer token like every /v1 route. */
export function registerStatsRoutes(app: FastifyInstance, engine: EnginePort): void {
  app.get('/v1/stats', { schema: { response: { 200: statsSchema, ...errorResponses } } }, async () => statsDocument(await engine.stats()));
}
