import { defaultInputLimits, depthOver, identifierProblem, parseJson, PrototypeKeyError, type InputLimits } from '../json-bounds.js';

/** The JSON envelope every message sagad publishes or accepts carries (DESIGN section 3). */
export interface Envelope {
  eventId: string;
  eventType: string;
  aggregateId: string;
  /** ISO 8601 time. */
  timestamp: string;
  /** Schema version of `eventType`; 1 when the sender left it out. */
  version: number;
  correlationId: string;
  /** The `eventId` of the message that caused this one; null for a root event such as an external trigger. */
  causationId: string | null;
  payload: Record<string, unknown>;
}

/** Result of {@link parseEnvelope}: the envelope, or a sentence fit for a dead-letter reason. */
export type ParseResult = { ok: true; envelope: Envelope } | { ok: false; reason: string };

const decoder = new TextDecoder('utf-8', { fatal: true });
/** The bytes a JSON text may begin with (after white space): { [ " - 0-9 t f n. */
const JSON_STARTS: ReadonlySet<number> = new Set([...'{["-0123456789tfn'].map((c) => c.charCodeAt(0)));
const encoder = new TextEncoder();

/**
 * Decodes and checks an envelope; never throws, and explains any rejection in `reason`. A
 * message over `limits` (size, then JSON depth) is refused before it is decoded or parsed, and
 * the identifiers are checked as {@link identifierProblem} says, so nothing it carries can
 * break a header or a recursive walk later.
 */
export function parseEnvelope(bytes: Uint8Array, limits: InputLimits = defaultInputLimits): ParseResult {
  if (bytes.byteLength > limits.maxBytes) {
    return { ok: false, reason: `message too large: ${bytes.byteLength} bytes, the limit is ${limits.maxBytes} (SAGA_MAX_MESSAGE_BYTES)` };
  }
  // Bytes that cannot begin any JSON value are refused without reading further (a flood of garbage costs little).
  const first = bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  if (first !== undefined && !JSON_STARTS.has(first)) {
    return { ok: false, reason: `not a JSON envelope: not JSON at all (its first byte is 0x${first.toString(16).padStart(2, '0')})` };
  }
  const deep = depthOver(bytes, limits.maxDepth);
  if (deep !== null) return { ok: false, reason: `JSON nested too deep: more than ${limits.maxDepth} levels (SAGA_MAX_JSON_DEPTH)` };
  let value: unknown;
  try {
    value = parseJson(decoder.decode(bytes));
  } catch (err) {
    if (err instanceof PrototypeKeyError) return { ok: false, reason: `not an envelope sagad takes: ${err.message}` };
    // JSON.parse quotes the text around the error, and may cut a character in half there: a lone
    // surrogate would not survive being stored (SQLite keeps UTF-8) and the reason would change.
    return { ok: false, reason: `not a JSON envelope: ${wellFormed(err instanceof Error ? err.message : String(err))}` };
  }
  if (!isRecord(value)) return { ok: false, reason: `not a JSON envelope: expected an object, got ${kind(value)}` };

  const problems: string[] = [];
  const text = (name: string, allowEmpty = false): string => {
    const v = value[name];
    if (typeof v === 'string' && (allowEmpty || v !== '')) {
      const problem = v === '' ? null : identifierProblem(name, v);
      if (problem === null) return v;
      problems.push(problem);
      return '';
    }
    problems.push(v === undefined ? `${name} is missing` : `${name} must be a non-empty string, got ${kind(v)}`);
    return '';
  };
  const eventId = text('eventId');
  const eventType = text('eventType');
  const aggregateId = text('aggregateId', true);
  const timestamp = text('timestamp');
  if (timestamp !== '' && Number.isNaN(Date.parse(timestamp))) problems.push(`timestamp is not an ISO time: ${JSON.stringify(timestamp)}`);
  const correlationId = text('correlationId', true);
  const rawCause = value.causationId;
  const causationId = rawCause === undefined || rawCause === null ? null : text('causationId');
  const rawVersion = value.version;
  const version = rawVersion === undefined ? 1 : rawVersion;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    problems.push(`version must be a positive integer, got ${kind(rawVersion)}`);
  }
  const payload = value.payload;
  if (!isRecord(payload)) problems.push(payload === undefined ? 'payload is missing' : `payload must be an object, got ${kind(payload)}`);

  if (problems.length > 0 || !isRecord(payload) || typeof version !== 'number') {
    return { ok: false, reason: `invalid envelope: ${problems.join('; ')}` };
  }
  return { ok: true, envelope: { eventId, eventType, aggregateId, timestamp, version, correlationId, causationId, payload } };
}

/** Serializes an envelope as UTF-8 JSON with the fields in their documented order. */
export function encodeEnvelope(env: Envelope): Uint8Array {
  const { eventId, eventType, aggregateId, timestamp, version, correlationId, causationId, payload } = env;
  return encoder.encode(JSON.stringify({ eventId, eventType, aggregateId, timestamp, version, correlationId, causationId, payload }));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

/** `text` with each lone UTF-16 surrogate replaced by U+FFFD (String#toWellFormed, which ES2023 typings lack). */
function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
