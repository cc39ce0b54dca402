/**
 * The documents of `GET /v1/definitions/{name}/versions` and `GET /v1/stats/durations`, built
 * by pure views from the store's exact figures, with their response schemas.
 */
import { InstanceStatus } from '../core/index.js';
import type { DurationGroup, Finished, Percentiles, VersionCount } from '../store/index.js';
import { isoTime } from './views.js';

/** Instances of one definition version of a saga. */
export interface VersionDocument {
  readonly hash: string;
  /** Whether this is the version loaded now, which new instances start with. */
  readonly current: boolean;
  readonly instances: number;
  /** Instances of this version in each state (every state named, 0 when none). */
  readonly states: Readonly<Record<InstanceStatus, number>>;
  readonly firstStartedAt: string | null;
  readonly lastStartedAt: string | null;
}

/** Every version of a saga that has instances, and the current one. */
export interface VersionsDocument {
  readonly saga: string;
  readonly current: string | null;
  readonly items: readonly VersionDocument[];
}

const noStates = (): Record<InstanceStatus, number> =>
  Object.fromEntries(Object.values(InstanceStatus).map((s) => [s, 0])) as Record<InstanceStatus, number>;

/** Pure: the versions document; the current version is listed (last) even before its first instance. */
export function versionsDocument(saga: string, current: string | null, counts: readonly VersionCount[]): VersionsDocument {
  const items: VersionDocument[] = counts.map((v) => ({
    hash: v.hash, current: v.hash === current, instances: v.count, states: { ...noStates(), ...v.byStatus },
    firstStartedAt: isoTime(v.firstCreatedAt), lastStartedAt: isoTime(v.lastCreatedAt),
  }));
  if (current !== null && !items.some((v) => v.hash === current)) {
    items.push({ hash: current, current: true, instances: 0, states: noStates(), firstStartedAt: null, lastStartedAt: null });
  }
  return { saga, current, items };
}

/** Saga time of a group: both finished states together, and each. */
export interface DurationDocument extends Percentiles {
  readonly completed: Percentiles;
  readonly compensated: Percentiles;
}

/** `GET /v1/stats/durations`: saga time (ms, start to end) of the instances started since `since` that finished. */
export interface DurationsDocument {
  readonly since: string;
  /** When the figures were read; a costly read is reused for a while (docs/console.md). */
  readonly computedAt: string;
  readonly overall: DurationDocument;
  readonly sagas: readonly (DurationDocument & { readonly saga: string })[];
}

const none: Percentiles = { count: 0, p50: null, p99: null };

/** Pure: the durations document from the store's groups. */
export function durationsDocument(since: number, computedAt: number, groups: readonly DurationGroup[]): DurationsDocument {
  const pick = (saga: string | null, status: Finished | null): Percentiles => {
    const g = groups.find((x) => x.saga === saga && x.status === status);
    return g === undefined ? none : { count: g.count, p50: g.p50, p99: g.p99 };
  };
  const doc = (saga: string | null): DurationDocument => ({ ...pick(saga, null), completed: pick(saga, 'completed'), compensated: pick(saga, 'compensated') });
  const sagas = [...new Set(groups.flatMap((g) => (g.saga === null ? [] : [g.saga])))].sort();
  return {
    since: isoTime(since), computedAt: isoTime(computedAt), overall: doc(null),
    sagas: sagas.map((saga) => ({ saga, ...doc(saga) })),
  };
}

const int = { type: 'integer' } as const;
const nullableInt = { type: ['integer', 'null'] } as const;
const nullableStr = { type: ['string', 'null'] } as const;

/** The versions document's schema. */
export const versionsSchema = {
  type: 'object', additionalProperties: false, required: ['saga', 'current', 'items'],
  properties: {
    saga: { type: 'string' }, current: nullableStr,
    items: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false,
        required: ['hash', 'current', 'instances', 'states', 'firstStartedAt', 'lastStartedAt'],
        properties: {
          hash: { type: 'string' }, current: { type: 'boolean' }, instances: int,
          states: {
            type: 'object', additionalProperties: false, required: Object.values(InstanceStatus),
            properties: Object.fromEntries(Object.values(InstanceStatus).map((s) => [s, int])),
          },
          firstStartedAt: nullableStr, lastStartedAt: nullableStr,
        },
      },
    },
  },
} as const;

const percentilesSchema = {
  type: 'object', additionalProperties: false, required: ['count', 'p50', 'p99'], properties: { count: int, p50: nullableInt, p99: nullableInt },
} as const;
const durationProperties = { ...percentilesSchema.properties, completed: percentilesSchema, compensated: percentilesSchema } as const;
const durationRequired = ['count', 'p50', 'p99', 'completed', 'compensated'];

/** The durations document's schema. */
export const durationsSchema = {
  type: 'object', additionalProperties: false, required: ['since', 'computedAt', 'overall', 'sagas'],
  properties: {
    since: { type: 'string' }, computedAt: { type: 'string' },
    overall: { type: 'object', additionalProperties: false, required: durationRequired, properties: durationProperties },
    sagas: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['saga', ...durationRequired], properties: { saga: { type: 'string' }, ...durationProperties } },
    },
  },
} as const;
