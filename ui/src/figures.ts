/** Figures the overview shows, computed from the API's documents. Pure. */
import type { InstanceSummaryDocument, StatsDocument } from '../../engine/api/index.js';

/** Pure: the value at percentile `p` (0..100) of `xs` by nearest rank, or null for none. */
export function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? null;
}

/** Pure: how long each finished instance took, start to end (its last update), in ms. */
export function sagaTimes(items: readonly InstanceSummaryDocument[]): number[] {
  return items.map((i) => Date.parse(i.updatedAt) - Date.parse(i.createdAt)).filter((ms) => Number.isFinite(ms) && ms >= 0);
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

/** Pure: how many of `items` run each definition version (hash), most used first. */
export function versionsOf(items: readonly InstanceSummaryDocument[]): { hash: string; count: number; newest: string }[] {
  const m = new Map<string, { hash: string; count: number; newest: string }>();
  for (const i of items) {
    const v = m.get(i.definitionHash);
    if (v === undefined) m.set(i.definitionHash, { hash: i.definitionHash, count: 1, newest: i.createdAt });
    else {
      v.count++;
      if (i.createdAt > v.newest) v.newest = i.createdAt;
    }
  }
  return [...m.values()].sort((a, b) => b.count - a.count || (a.newest < b.newest ? 1 : -1));
}

/** The instance states in the order an operator reads them. */
export const STATES = ['running', 'compensating', 'completed', 'compensated', 'failed'] as const;
