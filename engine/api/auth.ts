import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { ApiError, ApiErrorCode } from './errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** What a caller may do: everything, or only read (GET and HEAD). */
export type Access = 'admin' | 'read';

/** A token with a name: the name, not the secret, is journaled with each operator action. */
export interface NamedToken {
  readonly name: string;
  readonly secret: string;
}

/** The API's tokens: `admin` and the `named` ones may do everything, `read` only GET and HEAD. */
export interface ApiTokens {
  readonly admin?: string | undefined;
  readonly read?: string | undefined;
  /** More admin tokens, each with a name (SAGA_API_TOKENS). */
  readonly named?: readonly NamedToken[] | undefined;
}

/** Who called: what the token may do and its name (`admin` for SAGA_API_TOKEN, `read` for the read token, `anonymous` without tokens). */
export interface Caller {
  readonly access: Access;
  readonly name: string;
}

/** Name of the caller of an API that asks for no token. */
export const ANONYMOUS = 'anonymous';

/** Pure: `name:secret,name:secret` (SAGA_API_TOKENS) as named tokens; an entry without a colon is skipped. */
export function parseNamedTokens(text: string | undefined): NamedToken[] {
  if (text === undefined || text === '') return [];
  return text.split(',').flatMap((entry) => {
    const colon = entry.indexOf(':');
    return colon <= 0 || colon === entry.length - 1 ? [] : [{ name: entry.slice(0, colon), secret: entry.slice(colon + 1) }];
  });
}

/** Pure: true when the tokens ask callers for a bearer token at all. */
export function tokensRequired(tokens: ApiTokens): boolean {
  return (tokens.admin !== undefined && tokens.admin !== '') || (tokens.named?.length ?? 0) > 0;
}

/**
 * Pure except for hashing: who a request's `Authorization` header says called, or null for a
 * missing or wrong token. Without tokens the API is open and everyone is an `anonymous` admin.
 * Compares in constant time against every token.
 */
export function callerResolver(tokens: ApiTokens): (header: string | undefined) => Caller | null {
  const known: { digest: Buffer; caller: Caller }[] = [];
  if (tokens.admin !== undefined && tokens.admin !== '') known.push({ digest: digest(tokens.admin), caller: { access: 'admin', name: 'admin' } });
  for (const t of tokens.named ?? []) known.push({ digest: digest(t.secret), caller: { access: 'admin', name: t.name } });
  if (known.length > 0 && tokens.read !== undefined && tokens.read !== '') known.push({ digest: digest(tokens.read), caller: { access: 'read', name: 'read' } });
  return (header) => {
    if (known.length === 0) return { access: 'admin', name: ANONYMOUS };
    const given = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
    if (given === undefined) return null;
    // Digests have one length, so timingSafeEqual reveals neither a token nor its length; every token is compared.
    const d = digest(given);
    let found: Caller | null = null;
    for (const k of known) if (timingSafeEqual(d, k.digest) && found === null) found = k.caller;
    return found;
  };
}

/** Pure except for hashing: the access a request's `Authorization` header grants, or null. */
export function accessResolver(tokens: ApiTokens): (header: string | undefined) => Access | null {
  const resolve = callerResolver(tokens);
  return (header) => resolve(header)?.access ?? null;
}

/** The name of the token a request came with (already checked by {@link bearerAuth}), for the journal. */
export function callerName(tokens: ApiTokens): (request: FastifyRequest) => string {
  const resolve = callerResolver(tokens);
  return (request) => resolve(request.headers.authorization)?.name ?? ANONYMOUS;
}

/** Methods that change nothing: the read-only token may call them. */
const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

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
      throw new ApiError(ApiErrorCode.Forbidden, `the read-only token may only read; ${request.method} needs an admin token (SAGA_API_TOKEN or one of SAGA_API_TOKENS)`);
    }
    void reply.header('www-authenticate', 'Bearer realm="sagad"');
    throw new ApiError(ApiErrorCode.Unauthorized,
      header === undefined ? 'this route needs the header Authorization: Bearer <token>' : 'the bearer token is not valid');
  };
}

/** Pure: the host part of a Host header (`127.0.0.1:8080`, `[::1]:8080`, `localhost`). */
function hostnameOf(host: string): string {
  const bracketed = /^\[([^\]]*)\]/.exec(host);
  return bracketed !== null ? (bracketed[1] ?? '') : (host.split(':')[0] ?? '');
}

/**
 * Without tokens the API trusts whoever reaches its port: meant to be this machine's own
 * programs (a loopback SAGA_HTTP_HOST). A browser on this machine reaches it too, for any web
 * page it shows: a cross-site form or `fetch` can POST (retry, redrive and reload take no
 * body), and a page whose name its owner points at 127.0.0.1 (DNS rebinding) can read and act
 * as the same origin. So, without tokens, a request whose `Origin` is not the API's own is
 * refused (programs send none; the console is the same origin), and so is, when the API
 * listens on loopback, one whose `Host` is not a loopback name.
 */
export function sameMachineOnly(loopbackListener: boolean, isLoopbackName: (host: string) => boolean): onRequestAsyncHookHandler {
  return async (request) => {
    const host = request.headers.host;
    const origin = request.headers.origin;
    if (origin !== undefined) {
      const from = URL.canParse(origin) ? new URL(origin).host : null;
      if (from === null || host === undefined || from.toLowerCase() !== host.toLowerCase()) {
        throw new ApiError(ApiErrorCode.Forbidden,
          `a request from the web page ${JSON.stringify(origin)} is refused: without SAGA_API_TOKEN the API serves only programs on this machine and its own console; set SAGA_API_TOKEN to serve other origins`);
      }
    }
    if (loopbackListener && host !== undefined && !isLoopbackName(hostnameOf(host))) {
      throw new ApiError(ApiErrorCode.Forbidden,
        `a request for host ${JSON.stringify(host)} is refused: without SAGA_API_TOKEN the API answers only requests addressed to a loopback name (127.0.0.1, ::1, localhost); set SAGA_API_TOKEN to serve it under another name`);
    }
  };
}
