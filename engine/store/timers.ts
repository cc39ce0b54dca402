import type Database from 'better-sqlite3';
import type { TimerRef } from '../core/index.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { editTimers, parseTimers, type PendingTimer } from './instance-timers.js';
import type { InstancesInternal } from './instances.js';

/** A stored timer: an absolute due time, so one that fell due while sagad was down fires at restart. */
export interface TimerRow {
  readonly instanceId: string;
  readonly timerId: string;
  readonly dueAt: number;
  readonly data: TimerRef;
}

/** A timer's place in due order: by due time, then instance id, then timer id. */
export interface TimerKey {
  readonly dueAt: number;
  readonly instanceId: string;
  readonly timerId: string;
}

/**
 * A sweep through the due timers, page by page (`claimDueTimers`): each page is read after
 * `after` (from the earliest when null), and moves `after` past what it returned, to null
 * once no due timer was left behind it. The store, not its caller, moves it: where a page of
 * the SQLite adapter ends is an instance's place, which its last row does not tell.
 */
export interface TimerSweep {
  after: TimerKey | null;
}

/** Where a sweep starts: before every timer. */
export const SWEEP_START: TimerKey = { dueAt: Number.MIN_SAFE_INTEGER, instanceId: '', timerId: '' };

/** Durable timers, one per (instance, timer id), kept in the instance's row. */
export interface Timers {
  /** Schedules the timer; a timer with the same instance and id is replaced. Throws `SAGA_ERR_NOT_FOUND` when there is no such instance. */
  putTimer(instanceId: string, timerId: string, dueAt: number, data: TimerRef): void;
  /** Removes the timer if it exists. */
  deleteTimer(instanceId: string, timerId: string): void;
  /** Removes the timer if it is still due at `dueAt`: false when it already fired or was moved. */
  consumeTimer(instanceId: string, timerId: string, dueAt: number): boolean;
  /**
   * Timers due at or before `now`, earliest first, at most `limit`. With a sweep, those of the
   * instances after `sweep.after`, whole: an instance's due timers come in one page (more than
   * `limit` only when it alone has more).
   */
  dueTimers(now: number, limit: number, sweep?: TimerSweep): TimerRow[];
  /** The earliest due time, or null when no timer is scheduled. */
  nextDueAt(): number | null;
  timerCount(): number;
  /** The instance's pending timers, earliest first (what `sagactl why` reports as next retry or deadline). */
  timersOf(instanceId: string): TimerRow[];
}

/**
 * Pending timers (`timerCount`), also run by the background thread: the instances with a
 * timer are those in the partial `due_at` index.
 */
export const TIMER_COUNT_SQL = 'SELECT coalesce(sum(json_array_length(timers)), 0) AS n FROM instances WHERE due_at IS NOT NULL';

const byDue = (a: TimerRow, b: TimerRow): number =>
  a.dueAt - b.dueAt || (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0) || (a.timerId < b.timerId ? -1 : a.timerId > b.timerId ? 1 : 0);

/**
 * The timers, kept in their instance's row (migration 7): a `timers` JSON column written
 * with the row a step rewrites anyway, and `due_at`, the earliest of them, in a partial
 * index that the timer service scans. A step that arms and cancels timers so writes no row
 * of its own; a fired timer is consumed by one more update of its row.
 */
export function timers(db: Database.Database, rows: Pick<InstancesInternal, 'pendingTimers' | 'setTimers'>): Timers {
  // Instances in due order: each brings at least one due timer, so `limit` of them bring
  // every timer among the first `limit` (ties on due_at cut by id, as the rows are sorted).
  const due = db.prepare<[number, number], { id: string; timers: string }>(
    'SELECT id, timers FROM instances WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?');
  // A sweep reads on after the instance where its last page ended, on the same index: a
  // cursor by timer would lose an instance's later timers cut off at the end of a page (its
  // row comes before the cursor), so pages end between instances, each taken whole.
  const dueAfter = db.prepare<[number, number, string, number], { id: string; timers: string; due_at: number }>(
    `SELECT id, timers, due_at FROM instances
     WHERE due_at IS NOT NULL AND due_at <= ? AND (due_at, id) > (?, ?) ORDER BY due_at, id LIMIT ?`);
  const next = db.prepare<[], { at: number | null }>('SELECT min(due_at) AS at FROM instances WHERE due_at IS NOT NULL');
  const count = db.prepare<[], { n: number }>(TIMER_COUNT_SQL);
  const missing = (instanceId: string): StoreError => new StoreError(StoreErrorCode.NotFound, `no instance ${instanceId} to keep a timer for`);
  const toRows = (instanceId: string, list: readonly PendingTimer[]): TimerRow[] => list.map((t) => ({ instanceId, timerId: t.timerId, dueAt: t.dueAt, data: t.data }));

  return {
    putTimer(instanceId, timerId, dueAt, data) {
      const list = rows.pendingTimers(instanceId);
      if (list === undefined || !rows.setTimers(instanceId, editTimers(list, { put: [{ timerId, dueAt, data }], cancel: [] }))) throw missing(instanceId);
    },
    deleteTimer(instanceId, timerId) {
      const list = rows.pendingTimers(instanceId);
      if (list?.some((t) => t.timerId === timerId) === true) rows.setTimers(instanceId, editTimers(list, { put: [], cancel: [timerId] }));
    },
    consumeTimer(instanceId, timerId, dueAt) {
      const list = rows.pendingTimers(instanceId);
      if (list?.some((t) => t.timerId === timerId && t.dueAt === dueAt) !== true) return false;
      return rows.setTimers(instanceId, editTimers(list, { put: [], cancel: [timerId] }));
    },
    dueTimers(now, limit, sweep) {
      const dueOf = (r: { id: string; timers: string }) =>
        toRows(r.id, parseTimers(r.timers)).filter((t) => t.dueAt <= now);
      if (sweep === undefined) return due.all(now, limit).flatMap(dueOf).sort(byDue).slice(0, limit);
      const after = sweep.after ?? SWEEP_START;
      const found = dueAfter.all(now, after.dueAt, after.instanceId, limit);
      const page: TimerRow[] = [];
      let taken = 0;
      for (const r of found) {
        const rows = dueOf(r);
        if (taken > 0 && page.length + rows.length > limit) break;
        page.push(...rows);
        taken += 1;
        // An instance's place is its earliest timer: `due_at`, and the first of its row.
        sweep.after = { dueAt: r.due_at, instanceId: r.id, timerId: rows[0]?.timerId ?? '' };
      }
      if (taken === found.length && found.length < limit) sweep.after = null;
      return page.sort(byDue);
    },
    nextDueAt: () => next.get()?.at ?? null,
    timerCount: () => count.get()?.n ?? 0,
    timersOf: (instanceId) => toRows(instanceId, rows.pendingTimers(instanceId) ?? []),
  };
}
