import { randomFillSync } from 'node:crypto';

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
const encoder = new TextEncoder();

/** Decodes and checks an envelope; never throws, and explains any rejection in `reason`. */
export function parseEnvelope(bytes: Uint8Array): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    return { ok: false, reason: `not a JSON envelope: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!isRecord(value)) return { ok: false, reason: `not a JSON envelope: expected an object, got ${kind(value)}` };

  const problems: string[] = [];
  const text = (name: string, allowEmpty = false): string => {
    const v = value[name];
    if (typeof v === 'string' && (allowEmpty || v !== '')) return v;
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

/** A source of random bytes; defaults to node:crypto. */
export type RandomBytes = (size: number) => Uint8Array;

const POOL_SIZE = 8192;
let pool = new Uint8Array(0);
let poolAt = 0;

/**
 * Cryptographically random bytes from node:crypto, drawn 8 KiB at a time (a call per id cost
 * about 5% of the engine's CPU). Each byte is handed out once; a refill allocates a new pool,
 * so a returned view is never overwritten. `size` must not exceed 8 KiB.
 */
export function pooledRandomBytes(size: number): Uint8Array {
  if (size > POOL_SIZE) throw new RangeError(`pooledRandomBytes: at most ${POOL_SIZE} bytes, not ${size}`);
  if (poolAt + size > pool.length) {
    pool = randomFillSync(new Uint8Array(POOL_SIZE));
    poolAt = 0;
  }
  const out = pool.subarray(poolAt, poolAt + size);
  poolAt += size;
  return out;
}

const MAX_MS = 2 ** 48 - 1;

/**
 * Creates a UUIDv7 generator (RFC 9562) whose ids strictly increase, even within one millisecond
 * or when the clock steps back, by using the 12-bit `rand_a` field as a counter (method 1).
 */
export function createUuidv7(): (nowMs?: number, random?: RandomBytes) => string {
  let lastMs = -1;
  let counter = 0;
  return (nowMs = Date.now(), random = pooledRandomBytes) => {
    if (!Number.isFinite(nowMs) || nowMs < 0 || nowMs > MAX_MS) throw new RangeError(`uuidv7: timestamp out of range: ${nowMs}`);
    const rnd = new DataView(Uint8Array.from(random(10).subarray(0, 10)).buffer);
    if (rnd.byteLength < 10) throw new RangeError('uuidv7: random source returned fewer than 10 bytes');
    // Seeding the counter below 0x800 leaves at least 2048 ids per millisecond before it overflows.
    const seed = rnd.getUint16(0) & 0x7ff;
    let ms = Math.floor(nowMs);
    if (ms > lastMs) {
      counter = seed;
    } else {
      ms = lastMs;
      counter += 1;
      if (counter > 0xfff) {
        ms += 1; // borrow from the next millisecond, as RFC 9562 section 6.2 allows
        counter = seed;
      }
    }
    lastMs = ms;
    const out = new Uint8Array(16);
    const view = new DataView(out.buffer);
    view.setUint16(0, Math.floor(ms / 2 ** 32));
    view.setUint32(2, ms % 2 ** 32);
    view.setUint16(6, 0x7000 | counter);
    view.setUint8(8, 0x80 | (rnd.getUint8(2) & 0x3f));
    out.set(new Uint8Array(rnd.buffer, 3, 7), 9);
    const hex = Buffer.from(out).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
}

/** Returns a new UUIDv7 string; ids from this process are strictly increasing. */
export const uuidv7 = createUuidv7();
