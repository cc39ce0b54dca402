import { JetStreamApiCodes, JetStreamApiError, StorageType } from '@nats-io/jetstream';
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import { TransportError, TransportErrorCode } from './errors.js';

/** Whether {@link ensureStreams} may create and extend streams, or only checks them. */
export type StreamMode = 'create' | 'verify';

/** Options for {@link ensureStreams}. */
export interface EnsureStreamsOptions extends StreamLimits {
  /** Duplicate window of created streams in ms (default 2 minutes). */
  duplicateWindowMs?: number;
  /** Told, in verify mode, about each stream sagad uses that has no limit at all. */
  warn?: (message: string, fields: Record<string, unknown>) => void;
}

/** Limits of the streams sagad creates (`SAGA_STREAM_MAX_AGE`, `SAGA_STREAM_MAX_BYTES`); unset: none. */
export interface StreamLimits {
  /** max_age: messages older than this are removed, consumed or not. */
  maxAgeMs?: number | undefined;
  /** max_bytes: past it the oldest messages are removed, consumed or not. */
  maxBytes?: number | undefined;
}

/** Pure: the stream config fields of `limits` (JetStream counts max_age in nanoseconds). */
export function limitsConfig(limits: StreamLimits): { max_age?: number; max_bytes?: number } {
  return {
    ...(limits.maxAgeMs === undefined ? {} : { max_age: limits.maxAgeMs * 1_000_000 }),
    ...(limits.maxBytes === undefined ? {} : { max_bytes: limits.maxBytes }),
  };
}

/** Pure: true when a stream keeps every message for ever (no age, size or count limit): its disk use only grows. */
export function unlimited(config: Pick<StreamInfo['config'], 'max_age' | 'max_bytes' | 'max_msgs'>): boolean {
  return (config.max_age ?? 0) <= 0 && (config.max_bytes ?? -1) < 0 && (config.max_msgs ?? -1) < 0;
}

/** The stream sagad uses for a subject: its first token, uppercased, with other characters than [A-Z0-9_-] replaced by `_`. */
export function streamNameFor(subject: string): string {
  const first = subject.split('.')[0] ?? '';
  return first.toUpperCase().replace(/[^A-Z0-9_-]/g, '_');
}

/** True when every subject matched by `subject` is also matched by the stream subject `pattern`. */
export function subjectCovers(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const pt = p[i];
    const st = s[i];
    if (pt === '>') return st !== undefined;
    if (st === undefined || st === '>') return false;
    if (pt !== '*' && (st === '*' || pt !== st)) return false;
  }
  return s.length === p.length;
}

/**
 * Makes sure every subject is captured by a JetStream stream and returns the stream of each subject;
 * in verify mode it changes nothing and lists every missing stream or subject in one error.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  subjects: readonly string[],
  mode: StreamMode,
  opts: EnsureStreamsOptions = {},
): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const problems: string[] = [];
  const checked = new Set<string>();
  for (const subject of [...new Set(subjects)]) {
    const found = await coveringStream(jsm, subject);
    if (found !== undefined) {
      result[subject] = found;
      if (mode === 'verify' && opts.warn !== undefined && !checked.has(found)) {
        checked.add(found);
        const info = await streamInfo(jsm, found);
        if (info !== undefined && unlimited(info.config)) {
          opts.warn(`stream ${found} has no limits (max_age, max_bytes, max_msgs): it keeps every message and grows until the disk is full; set them, e.g. nats stream edit ${found} --max-age 14d --max-bytes 10GB`, { stream: found });
        }
      }
      continue;
    }
    const name = streamNameFor(subject);
    const info = await streamInfo(jsm, name);
    if (mode === 'verify') {
      problems.push(info === undefined
        ? `stream ${name} for subject ${subject} does not exist`
        : `stream ${name} exists but does not capture subject ${subject} (its subjects: ${(info.config.subjects ?? []).join(', ')})`);
      continue;
    }
    try {
      if (info === undefined) {
        const wide = `${subject.split('.')[0] ?? subject}.>`;
        await jsm.streams.add({
          name,
          // `orders.>` does not capture the one-token subject `orders` itself.
          subjects: subjectCovers(wide, subject) ? [wide] : [wide, subject],
          storage: StorageType.File,
          // JetStream refuses a duplicate window longer than max_age.
          duplicate_window: Math.min(opts.duplicateWindowMs ?? 120_000, opts.maxAgeMs ?? Infinity) * 1_000_000,
          ...limitsConfig(opts),
        });
      } else {
        await jsm.streams.update(name, { subjects: [...(info.config.subjects ?? []), subject] });
      }
    } catch (err) {
      // Another sagad may have created the same stream a moment ago.
      const raced = await coveringStream(jsm, subject);
      if (raced === undefined) {
        const what = info === undefined ? `create stream ${name}` : `add subject ${subject} to stream ${name}`;
        throw new TransportError(TransportErrorCode.StreamSetup, `cannot ${what}: ${errorText(err)}`, { cause: err });
      }
      result[subject] = raced;
      continue;
    }
    result[subject] = name;
  }
  if (problems.length > 0) {
    throw new TransportError(TransportErrorCode.StreamMissing, `JetStream streams are not set up for sagad: ${problems.join('; ')}`);
  }
  return result;
}

async function coveringStream(jsm: JetStreamManager, subject: string): Promise<string | undefined> {
  // The server's subject filter also returns streams that merely overlap, so check each one.
  for await (const name of jsm.streams.names(subject)) {
    const info = await streamInfo(jsm, name);
    if (info?.config.subjects?.some((p) => subjectCovers(p, subject))) return name;
  }
  return undefined;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw err;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Lifecycle events get a stream of their own (`SAGAS`), so `sagas.start.*` stays a plain request subject. */
export async function ensureLifecycleStream(jsm: JetStreamManager, subject: string, limits: StreamLimits = {}): Promise<void> {
  const streams = await jsm.streams.list().next();
  if (streams.some((s) => s.config.subjects.some((subj) => subj === subject || subj === 'sagas.>' || subj === '>'))) return;
  await jsm.streams.add({ name: 'SAGAS', subjects: [subject], ...limitsConfig(limits) });
}
