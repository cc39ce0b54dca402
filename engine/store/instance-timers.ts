import type { TimerRef } from '../core/index.js';

/** One pending timer as kept in its instance's row (migration 7): the row is the instance. */
export interface PendingTimer {
  readonly timerId: string;
  readonly dueAt: number;
  readonly data: TimerRef;
}

/** What one write does to an instance's timers: ids cancelled, then timers (re)armed. */
export interface TimerEdit {
  readonly put: readonly PendingTimer[];
  readonly cancel: readonly string[];
}

/** The `timers` and `due_at` column values of a set of pending timers: both null when none. */
export interface TimerColumns {
  readonly json: string | null;
  readonly dueAt: number | null;
}

const byDue = (a: PendingTimer, b: PendingTimer): number => a.dueAt - b.dueAt || (a.timerId < b.timerId ? -1 : a.timerId > b.timerId ? 1 : 0);

/** Pure: the timers stored in a `timers` column (null: none), earliest first. */
export function parseTimers(json: string | null): PendingTimer[] {
  return json === null ? [] : JSON.parse(json) as PendingTimer[];
}

/** Pure: `timers` after cancelling `edit.cancel` and putting `edit.put` (a put replaces the timer of the same id), earliest first. */
export function editTimers(timers: readonly PendingTimer[], edit: TimerEdit): PendingTimer[] {
  const byId = new Map(timers.map((t) => [t.timerId, t]));
  for (const id of edit.cancel) byId.delete(id);
  for (const t of edit.put) byId.set(t.timerId, { timerId: t.timerId, dueAt: t.dueAt, data: t.data });
  return [...byId.values()].sort(byDue);
}

/** Pure: the column values of `timers` (sorted earliest first, as `editTimers` returns them). */
export function timerColumns(timers: readonly PendingTimer[]): TimerColumns {
  const first = timers[0];
  return first === undefined ? { json: null, dueAt: null } : { json: JSON.stringify(timers), dueAt: first.dueAt };
}

/** Pure: true when the edit changes nothing (no cancel, no put), so the row's timer columns stay as they are. */
export function isNoEdit(edit: TimerEdit | undefined): boolean {
  return edit === undefined || (edit.put.length === 0 && edit.cancel.length === 0);
}
