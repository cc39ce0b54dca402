/**
 * JSON Schemas shared by the routes: request parts are validated by ajv, responses are
 * serialized by fast-json-stringify (which drops fields a schema does not name).
 */
import { InstanceStatus } from '../core/index.js';
import { identifierSchema } from '../json-bounds.js';

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const int = { type: 'integer' } as const;
const strings = { type: 'array', items: str } as const;

/** Any JSON value (instance input, journal event data). */
const anyJson = {} as const;

/** An identifier given by a client: an instance id, a key, a correlation id; printable, well-formed, at most 200 characters. */
export const idString = identifierSchema;

/** The body of every error response. */
export const errorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['statusCode', 'code', 'error', 'message'],
  properties: { statusCode: int, code: str, error: str, message: str },
} as const;

/** Error responses of every route: always `{statusCode, code, error, message}`. */
export const errorResponses = { '4xx': errorSchema, '5xx': errorSchema } as const;

/** Path parameters of the routes about one thing (`:id`). */
export const idParams = {
  type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', minLength: 1 } },
} as const;

/** Path parameters of the routes about one saga (`:name`). */
export const nameParams = {
  type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', minLength: 1 } },
} as const;

/** Query of a paged list: `limit` 1..500 (default 50, coerced from the query string) and `cursor`. */
export const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  cursor: { type: 'string', minLength: 1 },
} as const;

/** A page of `item`s and the cursor of the next page, null on the last. */
export function pageOf<T extends object>(item: T) {
  return {
    type: 'object', additionalProperties: false, required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items: item }, nextCursor: nullableStr },
  } as const;
}

/** The public instance states (DESIGN section 4). */
export const instanceStates = Object.values(InstanceStatus);

const compensationSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['state', 'attempts', 'lastError'],
  properties: { state: str, attempts: int, lastError: nullableStr, startedAt: nullableStr, finishedAt: nullableStr },
} as const;

const stepSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'state', 'attempts', 'startedAt', 'finishedAt', 'lastError', 'compensation'],
  properties: {
    name: str, state: str, attempts: int, startedAt: nullableStr, finishedAt: nullableStr, lastError: nullableStr,
    compensation: compensationSchema, child: str,
  },
} as const;

/** The instance document (`instanceDocument`). */
export const instanceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'saga', 'key', 'correlationId', 'state', 'definitionHash', 'input', 'createdAt', 'updatedAt', 'steps'],
  properties: {
    id: str, saga: str, key: nullableStr, correlationId: str, state: str, definitionHash: str, input: anyJson,
    createdAt: str, updatedAt: str, deadlineAt: nullableStr, steps: { type: 'array', items: stepSchema },
    reason: str, parentId: str,
    parent: { type: 'object', additionalProperties: false, required: ['id', 'saga', 'step'], properties: { id: str, saga: str, step: str } },
    failure: { type: 'object', additionalProperties: false, required: ['step', 'error'], properties: { step: str, error: str } },
    timers: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['kind', 'step', 'attempt', 'dueAt'],
        properties: { kind: str, step: nullableStr, attempt: { type: ['integer', 'null'] }, dueAt: str },
      },
    },
  },
} as const;

/** An instance in a list (`instanceSummary`). */
export const summarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'saga', 'key', 'correlationId', 'state', 'definitionHash', 'createdAt', 'updatedAt'],
  properties: {
    id: str, saga: str, key: nullableStr, correlationId: str, state: str, definitionHash: str, createdAt: str, updatedAt: str,
  },
} as const;

/** A journal entry (`historyEntry`). */
export const historyEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['seq', 'type', 'version', 'at', 'data'],
  properties: { seq: int, type: str, version: int, at: str, data: anyJson },
} as const;

/** A dead letter (`deadLetterDocument`). */
export const deadLetterSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'subject', 'reason', 'receivedAt', 'deliveryCount', 'redrivenAt', 'redrivenBy', 'headers', 'data', 'text'],
  properties: {
    id: str, subject: str, reason: str, receivedAt: str, deliveryCount: int, redrivenAt: nullableStr, redrivenBy: nullableStr,
    headers: { type: 'object', additionalProperties: str }, data: str, text: nullableStr,
  },
} as const;

/** A dead letter in a list (`deadLetterSummaryDocument`): no body. */
export const deadLetterSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'subject', 'reason', 'receivedAt', 'deliveryCount', 'redrivenAt', 'redrivenBy', 'headers', 'size', 'preview'],
  properties: {
    id: str, subject: str, reason: str, receivedAt: str, deliveryCount: int, redrivenAt: nullableStr, redrivenBy: nullableStr,
    headers: { type: 'object', additionalProperties: str }, size: int, preview: nullableStr,
  },
} as const;

const messageSchema = {
  type: 'object', additionalProperties: false, required: ['subject', 'type', 'version'],
  properties: { subject: str, type: str, version: int },
} as const;
const replySchema = {
  type: 'object', additionalProperties: false, required: ['subject', 'success', 'failure', 'retryable'],
  properties: { subject: str, success: strings, failure: strings, retryable: strings },
} as const;
const retrySchema = {
  type: 'object', additionalProperties: false, required: ['maxAttempts', 'initialInterval', 'backoffRate', 'maxInterval', 'jitter'],
  properties: { maxAttempts: { type: ['integer', 'null'] }, initialInterval: int, backoffRate: { type: 'number' }, maxInterval: int, jitter: str },
} as const;
const leafProperties = {
  name: str, kind: str, when: nullableStr, pivot: { type: 'boolean' }, afterPivot: { type: 'boolean' },
  command: messageSchema, reply: replySchema, timeout: { type: ['integer', 'null'] }, retry: retrySchema,
  subject: str, type: str, match: nullableStr,
  items: str, maxConcurrency: int, maxItems: int,
  // A delay step's duration (ms) or until expression; a saga step's child saga.
  for: { type: ['integer', 'null'] }, until: nullableStr, saga: str,
  compensation: {
    type: ['object', 'null'], additionalProperties: false, required: ['command', 'reply', 'timeout', 'retry'],
    properties: { command: messageSchema, reply: replySchema, timeout: int, retry: retrySchema },
  },
} as const;
const leafSchema = { type: 'object', additionalProperties: false, required: ['name', 'kind'], properties: leafProperties } as const;

const definitionCommon = {
  name: str, description: str, hash: str, timeout: { type: ['integer', 'null'] },
  trigger: { type: ['object', 'null'], additionalProperties: false, required: ['subject', 'type'], properties: { subject: str, type: str } },
} as const;

/** A definition in a list (`definitionSummary`). */
export const definitionSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description', 'hash', 'trigger', 'timeout', 'steps'],
  properties: {
    ...definitionCommon,
    steps: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['name', 'kind'],
        properties: { name: str, kind: str, branches: { type: 'array', items: strings } },
      },
    },
  },
} as const;

/** One definition in detail (`definitionDetail`). */
export const definitionDetailSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description', 'hash', 'trigger', 'timeout', 'key', 'schemas', 'steps'],
  properties: {
    ...definitionCommon,
    key: nullableStr,
    schemas: strings,
    steps: {
      type: 'array',
      items: {
        ...leafSchema,
        properties: {
          ...leafProperties, branches: { type: 'array', items: { type: 'array', items: leafSchema } },
          // A forEach group's steps.
          steps: { type: 'array', items: leafSchema },
        },
      },
    },
  },
} as const;

/** The stats document (`statsDocument`). */
export const statsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['instances', 'timersPending', 'outboxBacklog', 'deadLetters', 'consumerLag'],
  properties: {
    instances: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['saga', 'state', 'count'], properties: { saga: str, state: str, count: int } },
    },
    timersPending: int, outboxBacklog: int, deadLetters: int, consumerLag: { type: ['integer', 'null'] },
  },
} as const;

/** Readiness as `engine.readiness()` reports it, with a one-word status. */
export const readinessSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['status', 'ready', 'checks'],
  properties: {
    status: str,
    ready: { type: 'boolean' },
    checks: {
      type: 'object',
      additionalProperties: {
        type: 'object', additionalProperties: false, required: ['ok'], properties: { ok: { type: 'boolean' }, detail: str },
      },
    },
  },
} as const;
