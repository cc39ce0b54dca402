/** `GET /v1/whoami`: what the caller's token may do, so a client (the web console) shows only the actions it may take. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorResponses } from './schemas.js';

/** What a caller may do: `operate` reads and acts (start, cancel, retry, redrive, purge); `read` only reads. */
export const Access = { Operate: 'operate', Read: 'read' } as const;
/** One of {@link Access}'s values. */
export type Access = (typeof Access)[keyof typeof Access];

/** The answer of `GET /v1/whoami`. */
export interface WhoamiDocument {
  readonly access: Access;
  /** Whether the server asks for a bearer token at all. */
  readonly tokenRequired: boolean;
}

const whoamiSchema = {
  response: {
    200: {
      type: 'object', additionalProperties: false, required: ['access', 'tokenRequired'],
      properties: { access: { type: 'string', enum: Object.values(Access) }, tokenRequired: { type: 'boolean' } },
    },
    ...errorResponses,
  },
} as const;

/**
 * Registers `GET /v1/whoami`, behind the token like every /v1 route. `accessOf` says what the
 * request's (already checked) token may do: with one token that is always `operate`; a server
 * with a read-only token passes a function that tells the two apart.
 */
export function registerWhoamiRoute(app: FastifyInstance, tokenRequired: boolean, accessOf: (request: FastifyRequest) => Access): void {
  app.get('/v1/whoami', { schema: whoamiSchema }, async (request): Promise<WhoamiDocument> => ({ access: accessOf(request), tokenRequired }));
}
