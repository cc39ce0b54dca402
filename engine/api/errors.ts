import { STATUS_CODES } from 'node:http';
import { errorCatalogue } from '../error-codes.js';
import { SagaError } from '../errors.js';

/** Stable codes the HTTP layer adds to the `SAGA_ERR_*` family. */
export const ApiErrorCode = {
  /** A request failed its JSON Schema (params, query, headers or body). */
  Validation: 'SAGA_ERR_VALIDATION',
  /** No route has this method and path. */
  RouteNotFound: 'SAGA_ERR_ROUTE_NOT_FOUND',
  /** A /v1 route was called without the configured bearer token. */
  Unauthorized: 'SAGA_ERR_UNAUTHORIZED',
  /** The read-only token was used on a route that changes something. */
  Forbidden: 'SAGA_ERR_FORBIDDEN',
  /** The client closed the connection before its request was read. */
  ClientClosed: 'SAGA_ERR_CLIENT_CLOSED',
  /** The request line or headers are not valid HTTP, or the request took too long to arrive. */
  BadHttp: 'SAGA_ERR_BAD_HTTP',
  /** The body is not JSON, is empty where JSON was announced, or cannot be read. */
  BadRequest: 'SAGA_ERR_BAD_REQUEST',
  BodyTooLarge: 'SAGA_ERR_BODY_TOO_LARGE',
  UnsupportedMediaType: 'SAGA_ERR_UNSUPPORTED_MEDIA_TYPE',
  /** A bug or an I/O failure: the body says nothing more, the log has the error. */
  Internal: 'SAGA_ERR_INTERNAL',
} as const;
/** One of {@link ApiErrorCode}'s values. */
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

/** An HTTP-layer failure with one of {@link ApiErrorCode}'s codes. */
export class ApiError extends SagaError<ApiErrorCode> {}

/** The body of every error response (DESIGN section 4). */
export interface ErrorBody {
  readonly statusCode: number;
  readonly code: string;
  readonly error: string;
  readonly message: string;
}

/** HTTP status of each `SAGA_ERR_*` code, from the catalogue; any other error is a 500. */
export const statusOfCode: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(errorCatalogue).map(([code, e]) => [code, e.status]));

/** Pure: the error body for a status, a code and a message. */
export function errorBody(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** Fastify's own client errors (FST_ERR_*), by status, as our codes. */
const fastifyCodes: Readonly<Record<number, ApiErrorCode>> = {
  413: ApiErrorCode.BodyTooLarge,
  414: ApiErrorCode.Validation,
  415: ApiErrorCode.UnsupportedMediaType,
};

interface FastifyLike {
  readonly code?: unknown;
  readonly statusCode?: unknown;
  readonly validation?: unknown;
  readonly message?: unknown;
}

/** Socket errors that mean the client went away: nothing to fix on our side. */
const CLIENT_GONE_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Pure: true for an error that only says the client closed its connection. */
export function isClientGone(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return (typeof code === 'string' && CLIENT_GONE_CODES.has(code)) || message === 'aborted';
}

/**
 * Pure: what to answer for an error thrown while handling a request. `unexpected` is true
 * when the body hides the error (a 500), which must then be logged; a client that went away
 * is expected (it is logged without a stack, if at all).
 */
export function describeError(err: unknown): { body: ErrorBody; unexpected: boolean } {
  if (isClientGone(err)) {
    return { body: errorBody(400, ApiErrorCode.ClientClosed, 'the client closed the connection before the request was read'), unexpected: false };
  }
  if (err instanceof SagaError) {
    const status = statusOfCode[err.code] ?? 500;
    return { body: errorBody(status, err.code, err.message), unexpected: status === 500 };
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as FastifyLike;
  const message = typeof e.message === 'string' ? e.message : '';
  if (Array.isArray(e.validation)) return { body: errorBody(400, ApiErrorCode.Validation, message), unexpected: false };
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (typeof e.code === 'string' && e.code.startsWith('FST_') && status >= 400 && status < 500) {
    return { body: errorBody(status, fastifyCodes[status] ?? ApiErrorCode.BadRequest, message), unexpected: false };
  }
  return { body: errorBody(500, ApiErrorCode.Internal, 'the server failed to handle this request; its log has the details'), unexpected: true };
}

/** The minimal socket a client error arrives with. */
interface ClientSocket {
  readonly destroyed: boolean;
  readonly writable: boolean;
  end(data: string): void;
  destroy(): void;
}

/**
 * Answers a request that is not valid HTTP (fastify's `clientErrorHandler`) with the usual
 * error body and a code, instead of fastify's body without one; a reset socket gets nothing.
 */
export function answerClientError(err: Error & { code?: string }, socket: ClientSocket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'the request took too long to arrive']
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'the request headers are too large']
      : [400, 'the request is not valid HTTP'];
  const body = JSON.stringify(errorBody(status, ApiErrorCode.BadHttp, message));
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  } else {
    socket.destroy();
  }
}

/** A SAGA_ERR_NOT_FOUND error for a missing instance, with the message the API promises. */
export function noInstance(id: string): SagaError {
  return new SagaError('SAGA_ERR_NOT_FOUND', `no instance ${id}`);
}
