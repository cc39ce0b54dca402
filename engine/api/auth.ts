import { createHash, timingSafeEqual } from 'node:crypto';
import type { onRequestAsyncHookHandler } from 'fastify';
import { ApiError, ApiErrorCode } from './errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** What a caller may do: everything, or only read (GET and HEAD). */
export type Access = 'admin' | 'read';

/** The API's tokens: `admin` may do everything, `read` only GET and HEAD. */
export interface ApiTokens {
  readonly admin?: string | undefined;
  readonly read?: string | undefined;
}

/** Methods that change nothing: the read-only token may call them. */
const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/**
 * Pure except for hashing: the access a request's `Authorization` header grants, or null.
 * Without an admin token the API is open and everyone is `admin`. Compares in constant time.
 */
export function accessResolver(tokens: ApiTokens): (header: string | undefined) => Access | null {
  const admin = tokens.admin === undefined || tokens.admin === '' ? null : digest(tokens.admin);
  const read = tokens.read === undefined || tokens.read === '' ? null : digest(tokens.read);
  return (header) => {
    if (admin === null) return 'admin';
    const given = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
    if (given === undefined) return null;
    // Digests have one length, so timingSafeEqual reveals neither a token nor its length.
    const d = digest(given);
    if (timingSafeEqual(d, admin)) return 'admin';
    if (read !== null && timingSafeEqual(d, read)) return 'read';
    return null;
  };
}

/**
 * An onRequest hook that demands `Authorization: Bearer <token>` on every route except the
 * `open` ones (unknown paths included, so they reveal nothing), and answers 403 to a
 * read-only token on any method but GET and HEAD.
 */
export function bearerAuth(tokens: ApiTokens, open: ReadonlySet<string>): onRequestAsyncHookHandler {
  const resolve = accessResolver(tokens);
  return async (request, reply) => {
    const route = request.routeOptions.url;
    if (route !== undefined && open.has(route)) return;
    const header = request.headers.authorization;
    const access = resolve(header);
    if (access === 'admin') return;
    if (access === 'read') {
      if (READ_METHODS.has(request.method)) return;
      throw new ApiError(ApiErrorCode.Forbidden, `the read-only token may only read; ${request.method} needs the token of SAGA_API_TOKEN`);
    }
    void reply.header('www-authenticate', 'Bearer realm="sagad"');
    throw new ApiError(ApiErrorCode.Unauthorized,
      header === undefined ? 'this route needs the header Authorization: Bearer <token>' : 'the bearer token is not valid');
  };
}
