/**
 * The catalogue of sagad's stable error codes: every `SAGA_ERR_*` code any part may throw, what
 * it means, and the HTTP status the API answers it with (500 where no client could mend it).
 * Tests check codes, not messages; `SagaError` accepts only codes listed here.
 */
export const errorCatalogue = {
  // Requests and inputs
  SAGA_ERR_VALIDATION: { status: 400, meaning: 'a request failed its JSON Schema (params, query, headers or body)' },
  SAGA_ERR_BAD_REQUEST: { status: 400, meaning: 'the body is not JSON, or cannot be read' },
  SAGA_ERR_BAD_HTTP: { status: 400, meaning: 'the request is not valid HTTP' },
  SAGA_ERR_BAD_CURSOR: { status: 400, meaning: 'a list cursor that this list did not hand out' },
  SAGA_ERR_INVALID_INPUT: { status: 400, meaning: 'a start input fails its schema, or its key cannot be computed' },
  SAGA_ERR_INVALID_MESSAGE: { status: 400, meaning: 'a message is not an envelope, or fails its schema' },
  SAGA_ERR_CORRELATION_MISMATCH: { status: 400, meaning: "a reply's correlationId differs from its command's" },
  SAGA_ERR_LATE_REPLY: { status: 400, meaning: 'a success arrived after SAGA_LATE_SUCCESS_WINDOW past the end of its compensated instance' },
  SAGA_ERR_JSON_TOO_DEEP: { status: 400, meaning: 'a body or message nests JSON deeper than SAGA_MAX_JSON_DEPTH' },
  SAGA_ERR_UNAUTHORIZED: { status: 401, meaning: 'a /v1 route called without a valid bearer token' },
  SAGA_ERR_FORBIDDEN: { status: 403, meaning: 'the read-only token asked to act' },
  SAGA_ERR_NOT_FOUND: { status: 404, meaning: 'no such instance or dead letter' },
  SAGA_ERR_UNKNOWN_SAGA: { status: 404, meaning: 'no saga of that name is loaded' },
  SAGA_ERR_ROUTE_NOT_FOUND: { status: 404, meaning: 'no route has this method and path' },
  SAGA_ERR_INVALID_STATE: { status: 409, meaning: 'the instance is not in a state that allows the act' },
  SAGA_ERR_PAST_PIVOT: { status: 409, meaning: 'a cancel after the pivot: the saga can only complete' },
  SAGA_ERR_DUPLICATE_KEY: { status: 409, meaning: 'an instance of the saga already has this key' },
  SAGA_ERR_ALREADY_REDRIVEN: { status: 409, meaning: 'the dead letter was redriven already; a letter is redriven once' },
  SAGA_ERR_VERSION_CONFLICT: { status: 500, meaning: 'other writers kept changing the instance first; the input gave up' },
  SAGA_ERR_BODY_TOO_LARGE: { status: 413, meaning: 'the request body is over the limit' },
  SAGA_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'the body is not application/json' },
  SAGA_ERR_CLIENT_CLOSED: { status: 400, meaning: 'the client closed the connection before the request was read' },
  // Availability: the same request may succeed later
  SAGA_ERR_NOT_READY: { status: 503, meaning: 'sagad is draining or not connected' },
  SAGA_ERR_NATS_UNAVAILABLE: { status: 503, meaning: 'NATS cannot be reached' },
  SAGA_ERR_STORE_UNAVAILABLE: { status: 503, meaning: 'the store cannot be reached (PostgreSQL down or restarting)' },
  // Setup and operations
  SAGA_ERR_CONFIG: { status: 500, meaning: 'a configuration variable is invalid' },
  SAGA_ERR_DEFINITIONS: { status: 500, meaning: 'the definitions file is invalid' },
  SAGA_ERR_RELOAD_REFUSED: { status: 422, meaning: 'a reload found the definitions file invalid; the loaded definitions stay' },
  SAGA_ERR_DEFINITION_MISSING: { status: 500, meaning: 'an instance runs a definition that is neither loaded nor stored' },
  SAGA_ERR_EXPRESSION_SYNTAX: { status: 500, meaning: 'an expression does not compile' },
  SAGA_ERR_EXPRESSION_EVALUATION: { status: 500, meaning: 'an expression failed while evaluated' },
  SAGA_ERR_EXPRESSION_LIMIT: { status: 500, meaning: 'an expression ran past its time, depth or size limit' },
  SAGA_ERR_SCRIPT: { status: 500, meaning: 'a sagactl simulate script or cases file is invalid' },
  SAGA_ERR_LEASE_HELD: { status: 500, meaning: 'another sagad holds the NATS consumer prefix (a SQLite one, or replicas of another PostgreSQL database) or the SQLite file' },
  SAGA_ERR_NATS_AUTH: { status: 500, meaning: 'NATS refused the credentials' },
  SAGA_ERR_NATS_MISSING: { status: 500, meaning: 'no nats-server on PATH for the embedded default' },
  SAGA_ERR_NATS_START: { status: 500, meaning: 'the embedded nats-server did not start' },
  SAGA_ERR_STREAM_MISSING: { status: 500, meaning: 'a JetStream stream sagad needs does not exist (SAGA_STREAMS=verify)' },
  SAGA_ERR_STREAM_SETUP: { status: 500, meaning: 'a stream could not be created or extended' },
  SAGA_ERR_CONSUMER_SETUP: { status: 500, meaning: 'a durable consumer could not be set up' },
  SAGA_ERR_SCHEMA_VERSION: { status: 500, meaning: 'the database has another schema version than this build' },
  SAGA_ERR_STORE_CONFIG: { status: 500, meaning: 'the database settings are wrong (URL, password, user, database)' },
  SAGA_ERR_READ_ONLY: { status: 500, meaning: 'a write through a store opened read-only' },
  SAGA_ERR_UNREADABLE_EVENT: { status: 500, meaning: 'a journal event this build cannot read' },
  SAGA_ERR_INTERNAL: { status: 500, meaning: 'a bug or an I/O failure; the log has the error' },
} as const satisfies Record<`SAGA_ERR_${string}`, { readonly status: number; readonly meaning: string }>;

/** One of the catalogue's codes. */
export type ErrorCode = keyof typeof errorCatalogue;

/** The HTTP status of a code; 500 for anything not in the catalogue. */
export function statusOf(code: string): number {
  return Object.hasOwn(errorCatalogue, code) ? errorCatalogue[code as ErrorCode].status : 500;
}
