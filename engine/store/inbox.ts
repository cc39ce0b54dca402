import type Database from 'better-sqlite3';

/** Ids of processed incoming messages: what makes state transitions effectively-once. */
export interface Inbox {
  /** True when the message was already processed. */
  seen(messageId: string): boolean;
  /** Records the message as processed: true, or false when it already was (and keeps the first time). */
  remember(messageId: string, at: number): boolean;
  /**
   * Forgets ids remembered before `olderThan` (keep them longer than any redelivery), in the
   * order they were remembered: one remembered later with an earlier time stays until those
   * before it go. Returns how many.
   */
  pruneInbox(olderThan: number): number;
}

/** Prepares the inbox statements once. */
export function inbox(db: Database.Database): Inbox {
  const has = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM inbox WHERE message_id = ?');
  const put = db.prepare<[string, number]>('INSERT INTO inbox (message_id, at) VALUES (?, ?) ON CONFLICT (message_id) DO NOTHING');
  // No index on `at` (migration 8): rows are appended in time order (rowids only grow, and
  // restart only once the table is empty), so the rows to forget come first in rowid order,
  // before the first one remembered at or after `olderThan`; finding it reads just those. An
  // id remembered out of time order (a clock stepped back) is kept until those before it go.
  const prune = db.prepare<[number]>(`DELETE FROM inbox WHERE rowid <
    coalesce((SELECT rowid FROM inbox WHERE at >= ? ORDER BY rowid LIMIT 1), (SELECT max(rowid) FROM inbox) + 1)`);
  return {
    seen: (messageId) => has.get(messageId) !== undefined,
    remember: (messageId, at) => put.run(messageId, at).changes === 1,
    pruneInbox: (olderThan) => prune.run(olderThan).changes,
  };
}
