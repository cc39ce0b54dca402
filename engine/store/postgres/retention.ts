import type { InstanceState, TimerRef } from '../../core/index.js';
import type { StorePort } from '../port.js';
import { RETIRED_STATUSES, type RetiredInstance } from '../retention.js';
import { classify } from './connect.js';
import type { Db } from './db.js';

type Retention = Pick<StorePort, 'retire' | 'pruneDeadLetters'>;

interface JournalRow { instance_id: string; seq: number; type: string; type_version: number; at: number; data: string }
interface TimerDbRow { instance_id: string; timer_id: string; due_at: number; data: string }

/** Pure: the command ids an instance's journal dispatched (the `commands` rows to delete by key). */
function commandIds(journal: RetiredInstance['journal']): string[] {
  const ids: string[] = [];
  for (const e of journal) {
    const id = (e.data as { commandId?: unknown } | null)?.commandId;
    if (typeof id === 'string') ids.push(id);
  }
  return ids;
}

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
    async retire(before, limit, keep) {
      const c = await d.pool.connect().catch((err: unknown) => {
        throw classify(err, d.where);
      });
      let broken = false;
      try {
        await c.query('BEGIN');
        const rows: { id: string; state: string }[] = [];
        for (const status of RETIRED_STATUSES) {
          const r = await c.query<{ id: string; state: string }>(`
            SELECT id, state FROM instances WHERE status = $1 AND created_at < $2 AND updated_at < $2
            ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED`, [status, before, limit]);
          rows.push(...r.rows);
        }
        const states = rows.map((r) => JSON.parse(r.state) as InstanceState)
          .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
        // Locked more than `limit` (two statuses): the extra ones are released by the commit untouched.
        const chosen = states.slice(0, limit);
        if (chosen.length === 0) {
          await c.query('COMMIT');
          return { archived: 0, deleted: 0 };
        }
        const ids = chosen.map((s) => s.id);
        const [journal, timers] = await Promise.all([
          c.query<JournalRow>('SELECT instance_id, seq, type, type_version, at, data FROM journal WHERE instance_id = ANY ($1) ORDER BY instance_id, seq', [ids]),
          c.query<TimerDbRow>('SELECT instance_id, timer_id, due_at, data FROM timers WHERE instance_id = ANY ($1) ORDER BY due_at, timer_id', [ids]),
        ]);
        const batch = chosen.map((state): RetiredInstance => ({
          state,
          journal: journal.rows.filter((r) => r.instance_id === state.id)
            .map((r) => ({ seq: r.seq, type: r.type, version: r.type_version, at: r.at, data: JSON.parse(r.data) as unknown })),
          timers: timers.rows.filter((r) => r.instance_id === state.id)
            .map((r) => ({ instanceId: r.instance_id, timerId: r.timer_id, dueAt: r.due_at, data: JSON.parse(r.data) as TimerRef })),
        }));
        await keep(batch);
        const cmds = batch.flatMap((r) => commandIds(r.journal));
        await c.query('DELETE FROM journal WHERE instance_id = ANY ($1)', [ids]);
        await c.query('DELETE FROM snapshots WHERE instance_id = ANY ($1)', [ids]);
        await c.query('DELETE FROM timers WHERE instance_id = ANY ($1)', [ids]);
        await c.query('DELETE FROM waits WHERE instance_id = ANY ($1)', [ids]);
        if (cmds.length > 0) await c.query('DELETE FROM commands WHERE command_id = ANY ($1)', [cmds]);
        const gone = await c.query('DELETE FROM instances WHERE id = ANY ($1)', [ids]);
        await c.query('COMMIT');
        return { archived: batch.length, deleted: gone.rowCount ?? 0 };
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw classify(err, d.where);
      } finally {
        c.release(broken);
      }
    },
    pruneDeadLetters: (olderThan, limit) => d.run(
      'DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE received_at < $1 ORDER BY id LIMIT $2)', [olderThan, limit]),
  };
}
