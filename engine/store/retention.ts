import type Database from 'better-sqlite3';
import type { InstanceState, TimerRef } from '../core/index.js';
import type { JournalEntry } from './journal.js';
import type { TimerRow } from './timers.js';

/** The statuses retention removes: finished for good. `failed` waits for an operator's retry, so it stays. */
export const RETIRED_STATUSES = ['completed', 'compensated'] as const;

/** A finished instance handed to the archive before it is deleted: its state, its journal as stored, its timers. */
export interface RetiredInstance {
  readonly state: InstanceState;
  readonly journal: readonly JournalEntry[];
  readonly timers: readonly TimerRow[];
}

/** The SQLite store's retention statements; `purge` and `pruneDead` belong inside the caller's transaction. */
export interface Retention {
  /**
   * Finished instances (completed, compensated) created and last changed before `before`,
   * oldest first, at most `limit`, each with its journal and timers.
   */
  finishedBefore(before: number, limit: number): RetiredInstance[];
  /**
   * Deletes each instance that is still finished and still at `version` (one reopened by a late
   * reply since it was read stays), with its journal, snapshot, timers, commands and waits;
   * returns the ids deleted.
   */
  purge(refs: readonly { readonly id: string; readonly version: number }[]): string[];
  /** Deletes up to `limit` dead letters received before `olderThan`, oldest first; returns how many. */
  pruneDead(olderThan: number, limit: number): number;
}

interface JournalRow { instance_id: string; seq: number; type: string; type_version: number; at: number; data: string }
interface TimerDbRow { instance_id: string; timer_id: string; due_at: number; data: string }

/**
 * Prepares the retention statements once. Candidates are found per status through the
 * `(status, created_at)` index, oldest first, so a batch reads a few index pages and no sort;
 * `updated_at` (finished at) is checked on the rows found, since an instance is never
 * finished before it was created.
 */
export function retention(db: Database.Database): Retention {
  const candidates = db.prepare<[string, number, number, number], { id: string; state: string }>(`
    SELECT id, state FROM instances WHERE status = ? AND created_at < ? AND updated_at < ?
    ORDER BY created_at, id LIMIT ?`);
  const journalOf = db.prepare<[string], JournalRow>(
    'SELECT instance_id, seq, type, type_version, at, data FROM journal WHERE instance_id = ? ORDER BY seq');
  const timersOf = db.prepare<[string], TimerDbRow>(
    'SELECT instance_id, timer_id, due_at, data FROM timers WHERE instance_id = ? ORDER BY due_at, timer_id');
  const delInstance = db.prepare<[string, number]>(
    `DELETE FROM instances WHERE id = ? AND version = ? AND status IN (${RETIRED_STATUSES.map((s) => `'${s}'`).join(', ')})`);
  // The journal goes first, while its instance row still says finished: the journal's
  // trigger refuses to delete the journal of an instance that is not (migration 3).
  const delJournal = db.prepare<[string]>('DELETE FROM journal WHERE instance_id = ?');
  const children = ['snapshots', 'timers', 'commands', 'waits'].map((t) => db.prepare<[string]>(`DELETE FROM ${t} WHERE instance_id = ?`));
  const stillFinished = db.prepare<[string, number], { one: number }>(
    `SELECT 1 AS one FROM instances WHERE id = ? AND version = ? AND status IN (${RETIRED_STATUSES.map((s) => `'${s}'`).join(', ')})`);
  const deadBefore = db.prepare<[number, number]>(
    'DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE received_at < ? ORDER BY id LIMIT ?)');

  return {
    finishedBefore(before, limit) {
      const rows = RETIRED_STATUSES.flatMap((status) => candidates.all(status, before, before, limit));
      const states = rows.map((r) => JSON.parse(r.state) as InstanceState)
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
        .slice(0, limit);
      return states.map((state) => ({
        state,
        journal: journalOf.all(state.id).map((r) => ({ seq: r.seq, type: r.type, version: r.type_version, at: r.at, data: JSON.parse(r.data) as unknown })),
        timers: timersOf.all(state.id).map((r) => ({ instanceId: r.instance_id, timerId: r.timer_id, dueAt: r.due_at, data: JSON.parse(r.data) as TimerRef })),
      }));
    },
    purge(refs) {
      const deleted: string[] = [];
      for (const { id, version } of refs) {
        if (stillFinished.get(id, version) === undefined) continue;
        delJournal.run(id);
        for (const c of children) c.run(id);
        if (delInstance.run(id, version).changes === 1) deleted.push(id);
      }
      return deleted;
    },
    pruneDead: (olderThan, limit) => deadBefore.run(olderThan, limit).changes,
  };
}
