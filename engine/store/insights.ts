/**
 * Exact figures over every instance, for the console's definition and overview pages: how
 * many instances run each version (content hash) of a saga, and how long finished sagas took.
 * The pure parts are shared by both adapters; the SQLite queries read what migration 3
 * maintains (`instance_counts`, `instances_took`), so neither grows with the database.
 */
import type Database from 'better-sqlite3';
import type { InstanceStatus } from '../core/index.js';

/** Instances of one saga that run one definition version. */
export interface VersionCount {
  readonly hash: string;
  readonly count: number;
  /** Instances of this version by state (states without any are left out). */
  readonly byStatus: Partial<Record<InstanceStatus, number>>;
  /** The earliest and latest creation time (epoch ms) of its instances; null when it has none. */
  readonly firstCreatedAt: number | null;
  readonly lastCreatedAt: number | null;
}

/** The finished states whose saga time is measured: start to end, without an operator in between. */
export const FINISHED = ['completed', 'compensated'] as const;
export type Finished = (typeof FINISHED)[number];

/** Nearest-rank percentiles of saga time in ms; null when no instance counted. */
export interface Percentiles {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
}

/**
 * Saga time of one group of finished instances: one saga (or, `saga` null, all of them) and
 * one finished state (or, `status` null, both).
 */
export interface DurationGroup extends Percentiles {
  readonly saga: string | null;
  readonly status: Finished | null;
}

/** How many finished instances of a saga and state took exactly `ms`: what percentiles are computed from. */
export interface DurationCount {
  readonly saga: string;
  readonly status: Finished;
  readonly ms: number;
  readonly count: number;
}

/** The store's side of these figures, in both adapters. */
export interface Insights {
  /** Instances of `saga` per definition hash, exact; versions without instances are not listed. */
  definitionVersions(saga: string): VersionCount[];
}

/**
 * Rows of `instance_counts` (or of a GROUP BY over instances) as one entry per hash, most
 * recently started first. Pure.
 */
export function versionCounts(rows: readonly { hash: string; status: InstanceStatus; count: number; first: number | null; last: number | null }[]): VersionCount[] {
  const by = new Map<string, { hash: string; count: number; byStatus: Partial<Record<InstanceStatus, number>>; firstCreatedAt: number | null; lastCreatedAt: number | null }>();
  for (const r of rows) {
    const v = by.get(r.hash) ?? { hash: r.hash, count: 0, byStatus: {}, firstCreatedAt: null, lastCreatedAt: null };
    by.set(r.hash, v);
    if (r.count > 0) {
      v.count += r.count;
      v.byStatus[r.status] = (v.byStatus[r.status] ?? 0) + r.count;
    }
    if (r.first !== null) v.firstCreatedAt = v.firstCreatedAt === null ? r.first : Math.min(v.firstCreatedAt, r.first);
    if (r.last !== null) v.lastCreatedAt = v.lastCreatedAt === null ? r.last : Math.max(v.lastCreatedAt, r.last);
  }
  return [...by.values()].filter((v) => v.count > 0)
    .sort((a, b) => (b.lastCreatedAt ?? 0) - (a.lastCreatedAt ?? 0) || (a.hash < b.hash ? -1 : 1));
}

/** Pure: the value at percentile `p` (0..100) by nearest rank of a histogram sorted by value. */
function rank(sorted: readonly (readonly [number, number])[], total: number, p: number): number | null {
  if (total === 0) return null;
  const want = Math.min(total, Math.max(1, Math.ceil((p / 100) * total)));
  let seen = 0;
  for (const [ms, n] of sorted) {
    seen += n;
    if (seen >= want) return ms;
  }
  return null;
}

/**
 * Exact nearest-rank p50 and p99 of every group: each saga and state, each saga, each state
 * over all sagas, and everything; from counts per exact duration, so merging groups loses
 * nothing. Sagas sorted by name; `saga: null` rows last. Pure.
 */
export function durationGroups(rows: readonly DurationCount[]): DurationGroup[] {
  const groups = new Map<string, { saga: string | null; status: Finished | null; hist: Map<number, number> }>();
  const add = (saga: string | null, status: Finished | null, ms: number, n: number) => {
    const id = JSON.stringify([saga, status]);
    const g = groups.get(id) ?? { saga, status, hist: new Map<number, number>() };
    groups.set(id, g);
    g.hist.set(ms, (g.hist.get(ms) ?? 0) + n);
  };
  for (const r of rows) {
    if (r.count <= 0) continue;
    for (const saga of [r.saga, null]) for (const status of [r.status, null]) add(saga, status, r.ms, r.count);
  }
  const order = (g: { saga: string | null; status: Finished | null }) =>
    `${g.saga === null ? '\uffff' : g.saga}\u0000${g.status === null ? '~' : String(FINISHED.indexOf(g.status))}`;
  return [...groups.values()].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0)).map((g) => {
    const sorted = [...g.hist.entries()].sort((a, b) => a[0] - b[0]);
    const count = sorted.reduce((n, [, c]) => n + c, 0);
    return { saga: g.saga, status: g.status, count, p50: rank(sorted, count, 50), p99: rank(sorted, count, 99) };
  });
}

/**
 * Counts per exact saga time of the instances created at or after the parameter that
 * completed or compensated. In SQLite it reads only the partial index `instances_took`
 * (state, saga, time taken, created_at, updated_at of finished instances), in its order, so it
 * groups as it scans: no sort, no table row read.
 */
export const DURATIONS_SQL = `
  SELECT saga, status, updated_at - created_at AS ms, count(*) AS count FROM instances
  WHERE status IN ('completed', 'compensated') AND created_at >= ?
  GROUP BY status, saga, updated_at - created_at`;

/** The SQLite queries: per-version counts from `instance_counts`, which triggers keep exact. */
export function insights(db: Database.Database): Insights {
  const versions = db.prepare<[string], { hash: string; status: InstanceStatus; count: number; first: number; last: number }>(`
    SELECT definition_hash AS hash, status, count, first_created_at AS first, last_created_at AS last
    FROM instance_counts WHERE saga = ?`);
  return {
    definitionVersions: (saga) => versionCounts(versions.all(saga)),
  };
}
