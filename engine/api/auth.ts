import { createHash, timingSafeEqual } from 'node:crypto';
import type { onRequestAsyncHookHandler } from 'fastify';
import { ApiError, ApiErrorCode } from './errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * An onRequest hook that demands `Authorization: Bearer <token>` on every route except the
 * `open` ones (unknown paths included, so they reveal nothing); compares in constant time.
 */
export function bearerAuth(token: string, open: ReadonlySet<string>): onRequestAsyncHookHandler {
  const want = digest(token);
  return async (request, reply) => {
    const route = request.routeOptions.url;
    if (route !== undefined && open.has(route)) return;
    const header = request.headers.authorization;
    const given = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
    // Digests have one length, so timingSafeEqual reveals neither the token nor its length.
    if (given !== undefined && timingSafeEqual(digest(given), want)) return;
    void reply.header('www-authenticate', 'Bearer realm="sagad"');
    throw new ApiError(ApiErrorCode.Unauthorized,
      header === undefined ? 'this route needs the header Authorization: Bearer <token>' : 'the bearer token is not valid');
  };
}
