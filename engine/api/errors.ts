import { STATUS_CODES } from 'node:http';
import { SagaError } from '../errors.js';

/** Stable codes the HTTP layer adds to the `SAGA_ERR_*` family. */
export const ApiErrorCode = {
  /** A request failed its JSON Schema (params, query, headers or body). */
  Validation: 'SAGA_ERR_VALIDATION',
  /** No route has this method and path. */
  RouteNotFound: 'SAGA_ERR_ROUTE_NOT_FOUND',
  /** A /v1 route was called without the configured bearer token. */
  Unauthorized: 'SAGA_ERR_UNAUTHORIZED',
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

/** HTTP status of each known `SAGA_ERR_*` code; any other SagaError is a 500. */
export const statusOfCode: Readonly<Record<string, number>> = {
  SAGA_ERR_NOT_FOUND: 404,
  SAGA_ERR_UNKNOWN_SAGA: 404,
  SAGA_ERR_ROUTE_NOT_FOUND: 404,
  SAGA_ERR_INVALID_INPUT: 400,
  SAGA_ERR_VALIDATION: 400,
  SAGA_ERR_BAD_CURSOR: 400,
  SAGA_ERR_BAD_REQUEST: 400,
  SAGA_ERR_UNAUTHORIZED: 401,
  SAGA_ERR_INVALID_STATE: 409,
  SAGA_ERR_PAST_PIVOT: 409,
  SAGA_ERR_DUPLICATE_KEY: 409,
  SAGA_ERR_BODY_TOO_LARGE: 413,
  SAGA_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  SAGA_ERR_NOT_READY: 503,
  // A redrive publishes to NATS: while it is down the request may be repeated later.
  SAGA_ERR_NATS_UNAVAILABLE: 503,
  // The store cannot be reached now (PostgreSQL down or restarting): the same request may succeed later.
  SAGA_ERR_STORE_UNAVAILABLE: 503,
};

/** Pure: the error body for a status, a code and a message. */
export function errorBody(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** Fastify's own client errors (FST_ERR_*), by status, as our codes. */
const fastifyCodes: Readonly<Record<number, ApiErrorCode>> = {
  413: ApiErrorCode.BodyTooLarge,
  415: ApiErrorCode.UnsupportedMediaType,
};

interface FastifyLike {
  readonly code?: unknown;
  readonly statusCode?: unknown;
  readonly validation?: unknown;
  readonly message?: unknown;
}

/**
 * Pure: what to answer for an error thrown while handling a request. `unexpected` is true
 * when the body hides the error (a 500), which must then be logged.
 */
export function describeError(err: unknown): { body: ErrorBody; unexpected: boolean } {
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

/** A SAGA_ERR_NOT_FOUND error for a missing instance, with the message the API promises. */
export function noInstance(id: string): SagaError {
  return new SagaError('SAGA_ERR_NOT_FOUND', `no instance ${id}`);
}
