import type Database from 'better-sqlite3';
import type { InstanceState } from '../core/index.js';
import type { JournalEntry } from './journal.js';
import type { TimerRow } from './timers.js';

/** The statuses retention removes: finished for good. `failed` waits for an operator's retry, so it stays. */
export const RETIRED_STATUSES = ['completed', 'compensated'] as const;
/** A status retention removes. */
export type RetiredStatus = typeof RETIRED_STATUSES[number];

/**
 * The statuses of an ancestor (parent, its parent, ...) that may still ask a child saga to
 * compensate: a finished child is kept while one of its ancestors has one (docs/step-kinds.md).
 */
export const ACTIVE_ANCESTOR_STATUSES = ['running', 'compensating', 'failed'] as const;
/** How far up retention follows a child's parents; a deeper chain (there is none) keeps the child. */
export const MAX_ANCESTRY = 64;

/**
 * Where a retention pass goes on: the `(created_at, id)` of the last instance a batch read. A
 * pass reads every finished instance once, in that order, even those it keeps: a batch of
 * children whose parents still run does not make the next batch read them again.
 */
export interface RetireCursor {
  readonly createdAt: number;
  readonly id: string;
}

/** The start of a pass: before every instance (`created_at` is epoch ms). */
export const FIRST_CURSOR: RetireCursor = { createdAt: Number.MIN_SAFE_INTEGER, id: '' };

/**
 * Pure: one batch out of the candidates read per status (each at most `limit`, in
 * `(created, id)` order): the first `limit` of them all in that order, and where the next batch
 * starts, or null when every candidate has been read.
 */
export function pageOf<T extends { readonly created: number; readonly id: string }>(
  perStatus: readonly (readonly T[])[], limit: number,
): { rows: T[]; next: RetireCursor | null } {
  const all = perStatus.flat();
  // Ids in the databases' order: UTF-8 bytes (SQLite's BINARY, PostgreSQL's COLLATE "C"),
  // which JavaScript's UTF-16 comparison differs from past the surrogates.
  const rows = all.sort((a, b) => a.created - b.created || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id))).slice(0, limit);
  const last = rows.at(-1);
  // More may follow when a status filled its limit, or when the statuses together passed it.
  const more = all.length > limit || perStatus.some((r) => r.length >= limit);
  return { rows, next: more && last !== undefined ? { createdAt: last.created, id: last.id } : null };
}

/**
 * Whether a finished child must be kept: one of its ancestors, from `parent` up, is still
 * running, compensating or failed. `lookup` reads an instance's status and parent (undefined
 * when it is not in the store: nobody above it is asked). `memo` is shared within a batch.
 */
export function ancestorActive(
  parent: string | null, lookup: (id: string) => { status: string; parent: string | null } | undefined, memo: Map<string, boolean> = new Map(),
): boolean {
  const walked: string[] = [];
  let verdict = false;
  for (let id = parent; id !== null; ) {
    const known = memo.get(id);
    if (known !== undefined) {
      verdict = known;
      break;
    }
    if (walked.length >= MAX_ANCESTRY || walked.includes(id)) {
      verdict = true;
      break;
    }
    walked.push(id);
    const a = lookup(id);
    if (a === undefined) break;
    if ((ACTIVE_ANCESTOR_STATUSES as readonly string[]).includes(a.status)) {
      verdict = true;
      break;
    }
    id = a.parent;
  }
  for (const id of walked) memo.set(id, verdict);
  return verdict;
}

/**
 * How old a finished instance must be to be retired: one time for both statuses, or one per
 * status (compensated instances are kept longer while a late success may still reopen them).
 */
export type RetireBefore = number | Readonly<Record<RetiredStatus, number>>;

/** Pure: the cutoff of one status. */
export function cutoffOf(before: RetireBefore, status: RetiredStatus): number {
  return typeof before === 'number' ? before : before[status];
}

/**
 * A finished instance handed to the archive before it is deleted. Its documents come as the
 * JSON text the archive writes, built by the database from the stored text (never parsed
 * and serialized again in the event loop): the state document, the journal as an array of
 * `JournalEntry`, the timers as an array of `TimerRow`.
 */
export interface RetiredInstance {
  readonly id: string;
  readonly version: number;
  readonly definitionHash: string;
  readonly json: { readonly state: string; readonly journal: string; readonly timers: string };
}

/** Pure: the documents of a retired instance, parsed (for readers and tests; the archive writes the text). */
export function parseRetired(r: RetiredInstance): { state: InstanceState; journal: JournalEntry[]; timers: TimerRow[] } {
  return { state: JSON.parse(r.json.state) as InstanceState, journal: JSON.parse(r.json.journal) as JournalEntry[], timers: JSON.parse(r.json.timers) as TimerRow[] };
}

/** SQL: one journal row as the JSON text of a `JournalEntry`, its data spliced in as stored. */
export const JOURNAL_ENTRY_SQL = `'{"seq":' || seq || ',"type":' || json_quote(type) || ',"version":' || type_version || ',"at":' || at || ',"data":' || data || '}'`;
/** SQL: the timers of the instance row `i` as the JSON text of an array of `TimerRow`, earliest first. */
export const TIMER_ROWS_SQL = `(SELECT json_group_array(json_object('instanceId', i.id, 'timerId', t.value ->> 'timerId', 'dueAt', t.value -> 'dueAt', 'data', t.value -> 'data'))
  FROM json_each(coalesce(i.timers, '[]')) t)`;

/** The SQLite store's retention statements; `purge` and `pruneDead` belong inside the caller's transaction. */
export interface Retention {
  /**
   * The next `limit` finished instances (completed, compensated) after `after`, created and
   * last changed before their status's cutoff in `before`, oldest first; of them, `batch` are
   * those to retire, each with its journal and timers: all but a child saga an ancestor of
   * which may still ask it to compensate. `next` is where the pass goes on, null at its end.
   */
  finishedBefore(before: RetireBefore, limit: number, after?: RetireCursor): { batch: RetiredInstance[]; next: RetireCursor | null };
  /**
   * Deletes each instance that is still finished and still at `version` (one reopened by a late
   * reply since it was read stays), with its journal, snapshot, timers, commands and waits;
   * returns the ids deleted.
   */
  purge(refs: readonly { readonly id: string; readonly version: number }[]): string[];
  /** Deletes up to `limit` dead letters received before `olderThan`, oldest first; returns how many. */
  pruneDead(olderThan: number, limit: number): number;
}


/**
 * Prepares the retention statements once. Candidates are found per status through the
 * `(status, created_at, id)` index, oldest first from the pass's cursor, so a batch reads a few
 * index pages and no sort; `updated_at` (finished at) is checked on the rows found, since an
 * instance is never finished before it was created. A child saga's ancestors are read by id,
 * one primary-key probe each, and only for candidates that have a parent.
 */
export function retention(db: Database.Database): Retention {
  const candidates = db.prepare<[string, number, number, number, string, number],
    { id: string; version: number; hash: string; created: number; parent: string | null; state: string; timers: string }>(`
    SELECT i.id, i.version, i.definition_hash AS hash, i.created_at AS created, i.state ->> '$.parent.id' AS parent, i.state, ${TIMER_ROWS_SQL} AS timers
    FROM instances i
    WHERE i.status = ? AND i.created_at < ? AND i.updated_at < ? AND (i.created_at, i.id) > (?, ?) ORDER BY i.created_at, i.id LIMIT ?`);
  const ancestor = db.prepare<[string], { status: string; parent: string | null }>(
    "SELECT status, state ->> '$.parent.id' AS parent FROM instances WHERE id = ?");
  const journalOf = db.prepare<[string], { j: string }>(
    `SELECT '[' || coalesce(group_concat(x, ','), '') || ']' AS j FROM (SELECT ${JOURNAL_ENTRY_SQL} AS x FROM journal WHERE instance_id = ? ORDER BY seq)`);
  const delInstance = db.prepare<[string, number]>(
    `DELETE FROM instances WHERE id = ? AND version = ? AND status IN (${RETIRED_STATUSES.map((s) => `'${s}'`).join(', ')})`);
  // The journal goes first, while its instance row still says finished: the journal's
  // trigger refuses to delete the journal of an instance that is not (migration 3).
  const delJournal = db.prepare<[string]>('DELETE FROM journal WHERE instance_id = ?');
  // The timers go with the instance row that holds them. Commands are keyed by their id alone
  // (migration 12): an instance's are the ids its journal dispatched, so they go before it.
  const delCommands = db.prepare<[string]>(`DELETE FROM commands WHERE command_id IN (SELECT json_extract(data, '$.commandId') FROM journal
    WHERE instance_id = ? AND type IN ('StepDispatched', 'CompensationDispatched'))`);
  const children = ['snapshots', 'waits'].map((t) => db.prepare<[string]>(`DELETE FROM ${t} WHERE instance_id = ?`));
  const stillFinished = db.prepare<[string, number], { one: number }>(
    `SELECT 1 AS one FROM instances WHERE id = ? AND version = ? AND status IN (${RETIRED_STATUSES.map((s) => `'${s}'`).join(', ')})`);
  const deadBefore = db.prepare<[number, number]>(
    'DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE received_at < ? ORDER BY id LIMIT ?)');

  return {
    finishedBefore(before, limit, after = FIRST_CURSOR) {
      const { rows, next } = pageOf(RETIRED_STATUSES.map((status) =>
        candidates.all(status, cutoffOf(before, status), cutoffOf(before, status), after.createdAt, after.id, limit)), limit);
      const memo = new Map<string, boolean>();
      const batch = rows.filter((r) => !ancestorActive(r.parent, (id) => ancestor.get(id), memo)).map((r) => ({
        id: r.id, version: r.version, definitionHash: r.hash,
        json: { state: r.state, journal: journalOf.get(r.id)?.j ?? '[]', timers: r.timers },
      }));
      return { batch, next };
    },
    purge(refs) {
      const deleted: string[] = [];
      for (const { id, version } of refs) {
        if (stillFinished.get(id, version) === undefined) continue;
        delCommands.run(id);
        delJournal.run(id);
        for (const c of children) c.run(id);
        if (delInstance.run(id, version).changes === 1) deleted.push(id);
      }
      return deleted;
    },
    pruneDead: (olderThan, limit) => deadBefore.run(olderThan, limit).changes,
  };
}
