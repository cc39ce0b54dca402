import type { InstanceStatus } from '../../core/index.js';
import type { StorePort } from '../port.js';
import { planRebuild } from '../rebuild-plan.js';
import { upcast, type Upcasters } from '../upcast.js';
import { StoreError, StoreErrorCode } from '../errors.js';
import { codeOf } from './connect.js';
import type { Db } from './db.js';

type RebuildOps = Pick<StorePort, 'rebuildInstance' | 'journalInstanceIds'>;

interface Row {
  saga: string; definition_hash: string; key: string | null; correlation_id: string; status: InstanceStatus;
  created_at: number; updated_at: number; version: number; state: string;
}

/**
 * Rebuilding instance rows from the journal on PostgreSQL: one transaction per instance that
 * locks its row first (as `sagad_apply` does), so no replica's write slips between the replay
 * and the rewrite. A key another instance's row holds fails with `SAGA_ERR_DUPLICATE_KEY`, as
 * with SQLite.
 */
export function rebuildOps(d: Db, upcasters: Upcasters): RebuildOps {
  return {
    // A connection of its own (withClient): one the server ends meanwhile fails this rebuild,
    // rolled back, not the process.
    rebuildInstance: (id) => d.withClient(async (c) => {
      await c.query('BEGIN');
      const row = (await c.query<Row>(`SELECT saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state
        FROM instances WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      const snap = (await c.query<{ version: number; state: string }>('SELECT version, state FROM snapshots WHERE instance_id = $1', [id])).rows[0];
      const journal = (await c.query<{ type: string; type_version: number; data: string }>(
        'SELECT type, type_version, data FROM journal WHERE instance_id = $1 ORDER BY seq', [id])).rows;
      const plan = planRebuild(id, journal.map((r) => upcast(r.type, r.type_version, JSON.parse(r.data), upcasters)), row === undefined ? undefined : {
        saga: row.saga, definitionHash: row.definition_hash, key: row.key, correlationId: row.correlation_id, status: row.status,
        createdAt: Number(row.created_at), updatedAt: Number(row.updated_at), version: row.version, state: JSON.parse(row.state) as unknown,
      }, snap === undefined ? undefined : { version: snap.version, state: JSON.parse(snap.state) as unknown });
      const s = plan.state;
      const json = JSON.stringify(s);
      if (plan.rewriteRow) {
        await c.query(`INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
          ON CONFLICT (id) DO UPDATE SET saga = excluded.saga, definition_hash = excluded.definition_hash, key = excluded.key,
            correlation_id = excluded.correlation_id, status = excluded.status, created_at = excluded.created_at,
            updated_at = excluded.updated_at, version = excluded.version, state = excluded.state`,
        [s.id, s.saga, s.definitionHash, s.key, s.correlationId, s.status, s.createdAt, s.updatedAt, s.version, json]).catch((err: unknown) => {
          // unique_violation: the key of the replay is held by another instance's row.
          if (codeOf(err) !== '23505') throw err;
          throw new StoreError(StoreErrorCode.DuplicateKey, `another instance of saga ${s.saga} holds the key ${String(s.key)} of instance ${s.id}`, { cause: err });
        });
      }
      if (plan.rewriteSnapshot) {
        await c.query(`INSERT INTO snapshots (instance_id, version, state) VALUES ($1, $2, $3)
          ON CONFLICT (instance_id) DO UPDATE SET version = excluded.version, state = excluded.state`, [s.id, s.version, json]);
      }
      await c.query('COMMIT');
      return plan.report;
    }),
    async journalInstanceIds(after, limit) {
      const rows = await d.query<{ id: string }>(
        'SELECT DISTINCT instance_id AS id FROM journal WHERE instance_id > $1 ORDER BY instance_id LIMIT $2', [after ?? '', limit]);
      return rows.map((r) => r.id);
    },
  };
}
