/** The pure parts of the console's figures: percentiles from counts per exact time, counts per version. */
import fc from 'fast-check';
import t from 'tap';
import { durationGroups, versionCounts, type DurationCount, type Finished } from '../../engine/store/insights.js';

/** Nearest rank over the values written out one by one: what durationGroups must agree with. */
function naive(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1] ?? null;
}

t.test('every group agrees with nearest rank over the values written out, whatever the order of the rows', async (t) => {
  const row = fc.record({
    saga: fc.constantFrom('a', 'b', 'c'), status: fc.constantFrom<Finished>('completed', 'compensated'),
    ms: fc.integer({ min: 0, max: 50 }), count: fc.integer({ min: 1, max: 4 }),
  });
  fc.assert(fc.property(fc.array(row, { maxLength: 60 }), (rows: DurationCount[]) => {
    const groups = durationGroups(rows);
    for (const g of groups) {
      const values = rows.filter((r) => (g.saga === null || r.saga === g.saga) && (g.status === null || r.status === g.status))
        .flatMap((r) => Array.from({ length: r.count }, () => r.ms));
      if (g.count !== values.length || g.p50 !== naive(values, 50) || g.p99 !== naive(values, 99)) return false;
    }
    const sagas = new Set(rows.map((r) => r.saga)).size;
    const pairs = new Set(rows.map((r) => `${r.saga}/${r.status}`)).size;
    const states = new Set(rows.map((r) => r.status)).size;
    return groups.length === (rows.length === 0 ? 0 : pairs + sagas + states + 1);
  }), { numRuns: 300 });
  t.pass('300 random sets of rows');
});

t.test('versions: summed over states, the newest first, versions without instances left out', async (t) => {
  t.same(versionCounts([
    { hash: 'old', status: 'completed', count: 2, first: 10, last: 20 },
    { hash: 'old', status: 'running', count: 0, first: 5, last: 25 },
    { hash: 'new', status: 'running', count: 1, first: 30, last: 30 },
    { hash: 'gone', status: 'running', count: 0, first: 1, last: 2 },
  ]), [
    { hash: 'new', count: 1, byStatus: { running: 1 }, firstCreatedAt: 30, lastCreatedAt: 30 },
    { hash: 'old', count: 2, byStatus: { completed: 2 }, firstCreatedAt: 5, lastCreatedAt: 25 },
  ]);
});
