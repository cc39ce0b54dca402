import type { InstanceStatus } from '../../core/index.js';
import { durationGroups, versionCounts, type DurationCount } from '../insights.js';
import type { StorePort } from '../port.js';
import type { Db } from './db.js';

type Insights = Pick<StorePort, 'definitionVersions' | 'sagaDurations'>;

/**
 * The console's exact figures on PostgreSQL, counted from the instance rows on each call:
 * replicas write concurrently, and a shared counter row would serialize (and could deadlock)
 * their commits, so nothing is maintained per write. The counts per version read the index
 * `instances_saga_version_status` alone (schema version 2); the saga times read the window's
 * finished rows from the table (an index on `updated_at` would end the HOT updates of every
 * step). The API caches the answers by their cost (engine/api/cost-cache.ts).
 */
export function insights(d: Db): Insights {
  return {
    async definitionVersions(saga) {
      const rows = await d.query<{ hash: string; status: InstanceStatus; count: number; first: number; last: number }>(`
        SELECT definition_hash AS hash, status, count(*)::integer AS count, min(created_at) AS first, max(created_at) AS last
        FROM instances WHERE saga = $1 GROUP BY definition_hash, status`, [saga], 'sagad_definition_versions');
      return versionCounts(rows);
    },
    async sagaDurations(since) {
      const rows = await d.query<DurationCount>(`
        SELECT saga, status, updated_at - created_at AS ms, count(*)::integer AS count FROM instances
        WHERE status IN ('completed', 'compensated') AND created_at >= $1
        GROUP BY saga, status, updated_at - created_at`, [since], 'sagad_saga_durations');
      return durationGroups(rows);
    },
  };
}
