/** Figures the overview shows, computed from the API's documents. Pure. */
import type { StatsDocument } from '../../engine/api/index.js';

/** Pure: "p50 / p99" of saga times as short durations, or a dash without any finished instance. */
export function percentilePair(p: { readonly count: number; readonly p50: number | null; readonly p99: number | null }, dur: (ms: number) => string): string {
  return p.count === 0 || p.p50 === null || p.p99 === null ? '–' : `${dur(p.p50)} / ${dur(p.p99)}`;
}

/** Pure: instance counts by state (all sagas, or the one named), and their total. */
export function countsByState(stats: StatsDocument, saga?: string): { byState: Record<string, number>; total: number } {
  const byState: Record<string, number> = {};
  let total = 0;
  for (const r of stats.instances) {
    if (saga !== undefined && saga !== '' && r.saga !== saga) continue;
    byState[r.state] = (byState[r.state] ?? 0) + r.count;
    total += r.count;
  }
  return { byState, total };
}

/** The instance states in the order an operator reads them. */
export const STATES = ['running', 'compensating', 'completed', 'compensated', 'failed'] as const;
