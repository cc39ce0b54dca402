import type { StorePort } from '../port.js';
import { ACTIVE_ANCESTOR_STATUSES, cutoffOf, FIRST_CURSOR, MAX_ANCESTRY, pageOf, RETIRED_STATUSES, type RetiredInstance } from '../retention.js';
import type { Db } from './db.js';

type Retention = Pick<StorePort, 'retire' | 'pruneDeadLetters'>;

// The documents as the archive writes them, built from the stored text by the server.
const JOURNAL_JSON = `'[' || string_agg('{"seq":' || seq || ',"type":' || to_json(type)::text || ',"version":' || type_version || ',"at":' || at
  || ',"data":' || data || '}', ',' ORDER BY seq) || ']'`;
const TIMERS_JSON = `'[' || string_agg('{"instanceId":' || to_json(instance_id)::text || ',"timerId":' || to_json(timer_id)::text || ',"dueAt":' || due_at
  || ',"data":' || data || '}', ',' ORDER BY due_at, timer_id) || ']'`;

// Of the candidates with a parent (`$1` ids, `$2` their parents), those one of whose
// ancestors is running, compensating or failed (`$3`) and so may still ask them to compensate,
// and those with more ancestors than MAX_ANCESTRY (kept, as by SQLite's ancestorActive).
const KEPT_CHILDREN = `
  WITH RECURSIVE up (child, id, depth) AS (
    SELECT * , 1 FROM unnest($1::text[], $2::text[])
    UNION ALL
    SELECT up.child, i.state::json -> 'parent' ->> 'id', up.depth + 1 FROM up JOIN instances i ON i.id = up.id
    WHERE up.depth <= ${MAX_ANCESTRY})
  SELECT up.child FROM up JOIN instances a ON a.id = up.id WHERE up.depth <= ${MAX_ANCESTRY} AND a.status = ANY ($3)
  UNION SELECT up.child FROM up WHERE up.depth > ${MAX_ANCESTRY} AND up.id IS NOT NULL`;

/**
 * Retention on the shared database. A batch is one transaction: the candidates are locked
 * with `FOR UPDATE SKIP LOCKED` (replicas running retention at once take disjoint batches,
 * and an instance a commit holds is left for a later pass), the archive is written while
 * the locks are held, then the rows are deleted and the transaction commits. A commit for one
 * of them that comes meanwhile (a late reply) waits for the locks and then finds the instance
 * gone, as it would after the pass. Commands are deleted by the ids the journal dispatched,
 * through their primary key, so the hot path keeps no index on `commands.instance_id`.
 */
export function retentionOf(d: Db): Retention {
  return {
    // The archive is written (`keep`) while the transaction holds the locks: a server that
    // ends the connection meanwhile rejects the pass (withClient), and the next one retires
    // these instances again.
    retire: (before, limit, keep, after = FIRST_CURSOR) => d.withClient(async (c) => {
      await c.query('BEGIN');
      type Candidate = { id: string; version: number; hash: string; created: number; parent: string | null; state: string };
      const perStatus: Candidate[][] = [];
      for (const status of RETIRED_STATUSES) {
        const r = await c.query<Candidate>(`
          SELECT id, version, definition_hash AS hash, created_at::float8 AS created, state::json -> 'parent' ->> 'id' AS parent, state FROM instances
          WHERE status = $1 AND created_at < $2 AND updated_at < $2 AND (created_at, id) > ($4, $5)
          ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED`, [status, cutoffOf(before, status), limit, after.createdAt, after.id]);
        perStatus.push(r.rows);
      }
      // Locked more than `limit` (two statuses): the extra ones are released by the commit untouched.
      const { rows, next } = pageOf(perStatus, limit);
      const children = rows.filter((r) => r.parent !== null);
      const kept = children.length === 0 ? new Set<string>() : new Set((await c.query<{ child: string }>(KEPT_CHILDREN,
        [children.map((r) => r.id), children.map((r) => r.parent), ACTIVE_ANCESTOR_STATUSES])).rows.map((r) => r.child));
      const chosen = rows.filter((r) => !kept.has(r.id));
      if (chosen.length === 0) {
        await c.query('COMMIT');
        return { archived: 0, deleted: 0, busyMs: 0, next };
      }
      const ids = chosen.map((s) => s.id);
      const [journal, timers] = [
        await c.query<{ id: string; j: string }>(`SELECT instance_id AS id, ${JOURNAL_JSON} AS j FROM journal WHERE instance_id = ANY ($1) GROUP BY instance_id`, [ids]),
        await c.query<{ id: string; j: string }>(`SELECT instance_id AS id, ${TIMERS_JSON} AS j FROM timers WHERE instance_id = ANY ($1) GROUP BY instance_id`, [ids]),
      ];
      const journals = new Map(journal.rows.map((r) => [r.id, r.j]));
      const timersOf = new Map(timers.rows.map((r) => [r.id, r.j]));
      const batch = chosen.map((r): RetiredInstance => ({
        id: r.id, version: r.version, definitionHash: r.hash,
        json: { state: r.state, journal: journals.get(r.id) ?? '[]', timers: timersOf.get(r.id) ?? '[]' },
      }));
      await keep(batch);
      await c.query(`DELETE FROM commands WHERE command_id IN (SELECT data::json->>'commandId' FROM journal
        WHERE instance_id = ANY ($1) AND type IN ('StepDispatched', 'CompensationDispatched'))`, [ids]);
      await c.query('DELETE FROM journal WHERE instance_id = ANY ($1)', [ids]);
      await c.query('DELETE FROM snapshots WHERE instance_id = ANY ($1)', [ids]);
      await c.query('DELETE FROM timers WHERE instance_id = ANY ($1)', [ids]);
      await c.query('DELETE FROM waits WHERE instance_id = ANY ($1)', [ids]);
      const gone = await c.query('DELETE FROM instances WHERE id = ANY ($1)', [ids]);
      await c.query('COMMIT');
      return { archived: batch.length, deleted: gone.rowCount ?? 0, busyMs: 0, next };
    }),
    pruneDeadLetters: (olderThan, limit) => d.run(
      'DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE received_at < $1 ORDER BY id LIMIT $2)', [olderThan, limit]),
  };
}
