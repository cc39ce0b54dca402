import type Database from 'better-sqlite3';
import type { TimerRef } from '../core/index.js';

/** A stored timer: an absolute due time, so one that fell due while sagad was down fires at restart. */
export interface TimerRow {
  readonly instanceId: string;
  readonly timerId: string;
  readonly dueAt: number;
  readonly data: TimerRef;
}

/** Durable timers, one per (instance, timer id). */
export interface Timers {
  /** Schedules the timer; a timer with the same instance and id is replaced. */
  putTimer(instanceId: string, timerId: string, dueAt: number, data: TimerRef): void;
  /** Removes the timer if it exists. */
  deleteTimer(instanceId: string, timerId: string): void;
  /** Removes the timer if it is still due at `dueAt`: false when it already fired or was moved. */
  consumeTimer(instanceId: string, timerId: string, dueAt: number): boolean;
  /** Timers due at or before `now`, earliest first. */
  dueTimers(now: number, limit: number): TimerRow[];
  /** The earliest due time, or null when no timer is scheduled. */
  nextDueAt(): number | null;
  timerCount(): number;
  /** The instance's pending timers, earliest first (what `sagactl why` reports as next retry or deadline). */
  timersOf(instanceId: string): TimerRow[];
}

/** Pending timers (`timerCount`), also run by the background thread. */
export const TIMER_COUNT_SQL = 'SELECT count(*) AS n FROM timers';

interface Row { instance_id: string; timer_id: string; due_at: number; data: string }

/** Prepares the timer statements once. */
export function timers(db: Database.Database): Timers {
  const put = db.prepare<[string, string, number, string]>(`
    INSERT INTO timers (instance_id, timer_id, due_at, data) VALUES (?, ?, ?, ?)
    ON CONFLICT (instance_id, timer_id) DO UPDATE SET due_at = excluded.due_at, data = excluded.data`);
  const del = db.prepare<[string, string]>('DELETE FROM timers WHERE instance_id = ? AND timer_id = ?');
  const consume = db.prepare<[string, string, number]>('DELETE FROM timers WHERE instance_id = ? AND timer_id = ? AND due_at = ?');
  const due = db.prepare<[number, number], Row>(
    'SELECT instance_id, timer_id, due_at, data FROM timers WHERE due_at <= ? ORDER BY due_at, instance_id, timer_id LIMIT ?');
  const next = db.prepare<[], { at: number | null }>('SELECT min(due_at) AS at FROM timers');
  const count = db.prepare<[], { n: number }>(TIMER_COUNT_SQL);
  const of = db.prepare<[string], Row>(
    'SELECT instance_id, timer_id, due_at, data FROM timers WHERE instance_id = ? ORDER BY due_at, timer_id');
  const toRow = (r: Row): TimerRow => ({ instanceId: r.instance_id, timerId: r.timer_id, dueAt: r.due_at, data: JSON.parse(r.data) as TimerRef });

  return {
    putTimer: (instanceId, timerId, dueAt, data) => void put.run(instanceId, timerId, dueAt, JSON.stringify(data)),
    deleteTimer: (instanceId, timerId) => void del.run(instanceId, timerId),
    consumeTimer: (instanceId, timerId, dueAt) => consume.run(instanceId, timerId, dueAt).changes === 1,
    dueTimers: (now, limit) => due.all(now, limit).map(toRow),
    nextDueAt: () => next.get()?.at ?? null,
    timerCount: () => count.get()?.n ?? 0,
    timersOf: (instanceId) => of.all(instanceId).map(toRow),
  };
}
