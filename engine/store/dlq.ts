import type Database from 'better-sqlite3';
import { toBuffer, type Headers } from './bytes.js';
import { clampLimit, decodeCursor, encodeCursor, type Page } from './cursor.js';

/** A message that could not be processed, parked as received. */
export interface DeadLetterInput {
  readonly subject: string;
  readonly reason: string;
  readonly headers: Headers;
  readonly data: Uint8Array;
  readonly deliveryCount: number;
  readonly at: number;
}

/** A dead letter in a list: everything but its body, of which only the size and the first bytes are read. */
export interface DeadLetterSummary {
  /** Decimal string of an ever-increasing integer. */
  readonly id: string;
  readonly subject: string;
  readonly reason: string;
  readonly headers: Headers;
  /** Bytes of the body. */
  readonly size: number;
  /** The first {@link HEAD_BYTES} bytes of the body at most. */
  readonly head: Uint8Array;
  readonly receivedAt: number;
  readonly deliveryCount: number;
  readonly redrivenAt: number | null;
  /** Who redrove it (a token's name), null when not redriven or not known. */
  readonly redrivenBy: string | null;
}

/** One dead letter with its whole body. */
export interface DeadLetter extends Omit<DeadLetterSummary, 'size' | 'head'> {
  readonly data: Uint8Array;
}

/** What a list of dead letters may ask: a page by count, and by size (`maxBytes` of everything but bodies). */
export interface DeadListOptions {
  readonly limit?: number;
  readonly cursor?: string | null;
  /** Stop a page once its letters (subject, reason, headers, head) reach this many bytes; at least one letter per page. */
  readonly maxBytes?: number;
}

/** How many dead letters and body bytes to keep at most; the oldest beyond either are dropped. */
export interface DeadLetterCap {
  readonly maxRows: number;
  readonly maxBytes: number;
}

/** Default cap of the dead-letter queue (SAGA_DLQ_MAX, SAGA_DLQ_MAX_BYTES). */
export const defaultDlqCap: DeadLetterCap = Object.freeze({ maxRows: 10_000, maxBytes: 104_857_600 });

/**
 * Pure: what a trim keeps once the queue is over its cap: nine tenths of it, so that a flood
 * trims once per tenth of the cap rather than once per letter, and never fewer than one letter.
 * The newest letter is kept whatever its size (the trim follows its park), so a park never
 * drops its own letter; with a cap of one or two, letters parked in the same group commit may
 * still push out one another.
 */
export function trimTarget(cap: DeadLetterCap): DeadLetterCap {
  return { maxRows: Math.max(1, Math.floor(cap.maxRows * 0.9)), maxBytes: Math.floor(cap.maxBytes * 0.9) };
}

/** Bytes of each body a list reads. */
export const HEAD_BYTES = 512;

/** Default size budget of one page of dead letters. */
export const DEAD_PAGE_BYTES = 524_288;

/** The dead-letter queue: nothing is dropped silently. */
export interface DeadLetters {
  /** Stores the message byte for byte and returns its id. */
  park(letter: DeadLetterInput): string;
  /** One page of dead letters without their bodies, newest first; throws `SAGA_ERR_BAD_CURSOR` for a foreign cursor. */
  listDead(opts?: DeadListOptions): Page<DeadLetterSummary>;
  getDead(id: string): DeadLetter | undefined;
  /** Marks the letter redriven (by `by`); false when there is no such letter or it was redriven already. */
  markRedriven(id: string, at: number, by?: string | null): boolean;
  /** Deletes the letter; false when there is no such letter. */
  deleteDead(id: string): boolean;
  /**
   * When over the cap, deletes the oldest letters until the rest fits {@link trimTarget}, but
   * never the newest; returns how many and their body bytes.
   */
  trimDead(cap: DeadLetterCap): { dropped: number; bytes: number };
  /** Number of letters not yet redriven. */
  deadCount(): number;
}

interface Row {
  id: number; subject: string; reason: string; headers: string; data: Buffer;
  received_at: number; delivery_count: number; redriven_at: number | null; redriven_by: string | null;
}
interface SummaryRow extends Omit<Row, 'data'> { size: number; head: Buffer | null }

/** Dead letters not redriven (`deadCount`), also run by the background thread. */
export const DEAD_COUNT_SQL = 'SELECT count(*) AS n FROM dead_letters WHERE redriven_at IS NULL';

const columns = 'id, subject, reason, headers, data, received_at, delivery_count, redriven_at, redriven_by';
// length() of a blob reads its size from the record header, not the body: a list stays small however big the bodies.
const summaryColumns = `id, subject, reason, headers, length(data) AS size, substr(data, 1, ${HEAD_BYTES}) AS head, received_at, delivery_count, redriven_at, redriven_by`;

/** Pure: a stored row as a dead letter. */
export function letterOf(r: Row): DeadLetter {
  return {
    id: String(r.id), subject: r.subject, reason: r.reason, headers: JSON.parse(r.headers) as Headers, data: r.data,
    receivedAt: r.received_at, deliveryCount: r.delivery_count, redrivenAt: r.redriven_at, redrivenBy: r.redriven_by ?? null,
  };
}

/** Pure: a stored summary row as a summary. */
export function summaryOf(r: SummaryRow): DeadLetterSummary {
  return {
    id: String(r.id), subject: r.subject, reason: r.reason, headers: JSON.parse(r.headers) as Headers, size: Number(r.size),
    // SQLite's substr of an empty blob is NULL.
    head: r.head ?? Buffer.alloc(0), receivedAt: r.received_at, deliveryCount: r.delivery_count, redrivenAt: r.redriven_at, redrivenBy: r.redriven_by ?? null,
  };
}

/**
 * Pure: one page out of `limit + 1` rows read newest first: at most `limit` letters, fewer
 * when their size reaches `maxBytes` (never none), and the cursor after the last one shown.
 */
export function pageOfLetters(rows: readonly DeadLetterSummary[], limit: number, maxBytes = DEAD_PAGE_BYTES): Page<DeadLetterSummary> {
  const items: DeadLetterSummary[] = [];
  let bytes = 0;
  for (const r of rows.slice(0, limit)) {
    const size = r.subject.length + r.reason.length + JSON.stringify(r.headers).length + r.head.byteLength * 2;
    if (items.length > 0 && bytes + size > maxBytes) break;
    items.push(r);
    bytes += size;
  }
  const last = items.at(-1);
  return { items, nextCursor: rows.length > items.length && last !== undefined ? encodeCursor([Number(last.id)]) : null };
}

/** A dead letter id as its integer key, or null when it cannot be one. */
export function letterKey(id: string): number | null {
  return /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : null;
}

/** Prepares the dead-letter statements once. */
export function deadLetters(db: Database.Database): DeadLetters {
  const insert = db.prepare<[string, string, string, Buffer, number, number]>(
    'INSERT INTO dead_letters (subject, reason, headers, data, received_at, delivery_count) VALUES (?, ?, ?, ?, ?, ?)');
  const first = db.prepare<[number], SummaryRow>(`SELECT ${summaryColumns} FROM dead_letters ORDER BY id DESC LIMIT ?`);
  const after = db.prepare<[number, number], SummaryRow>(`SELECT ${summaryColumns} FROM dead_letters WHERE id < ? ORDER BY id DESC LIMIT ?`);
  const one = db.prepare<[number], Row>(`SELECT ${columns} FROM dead_letters WHERE id = ?`);
  const redriven = db.prepare<[number, string | null, number]>('UPDATE dead_letters SET redriven_at = ?, redriven_by = ? WHERE id = ? AND redriven_at IS NULL');
  const del = db.prepare<[number]>('DELETE FROM dead_letters WHERE id = ?');
  const count = db.prepare<[], { n: number }>(DEAD_COUNT_SQL);
  // The newest letter that no longer fits, among all but the newest (always kept): it and everything older go.
  const cutoff = db.prepare<[number, number], { id: number }>(`
    SELECT id FROM (SELECT id, row_number() OVER w AS n, sum(length(data)) OVER w AS total FROM dead_letters WINDOW w AS (ORDER BY id DESC))
    WHERE n > 1 AND (n > ? OR total > ?) ORDER BY id DESC LIMIT 1`);
  const totals = db.prepare<[], { n: number; bytes: number | null }>('SELECT count(*) AS n, sum(length(data)) AS bytes FROM dead_letters');
  const doomed = db.prepare<[number], { n: number; bytes: number | null }>('SELECT count(*) AS n, sum(length(data)) AS bytes FROM dead_letters WHERE id <= ?');
  const dropOlder = db.prepare<[number]>('DELETE FROM dead_letters WHERE id <= ?');

  return {
    park: (l) => String(insert.run(l.subject, l.reason, JSON.stringify(l.headers), toBuffer(l.data), l.at, l.deliveryCount).lastInsertRowid),
    listDead(opts = {}) {
      const limit = clampLimit(opts.limit);
      const cursor = opts.cursor ?? null;
      const rows = cursor === null ? first.all(limit + 1) : after.all(decodeCursor(cursor, ['number'] as const)[0], limit + 1);
      return pageOfLetters(rows.map(summaryOf), limit, opts.maxBytes);
    },
    getDead(id) {
      const k = letterKey(id);
      const r = k === null ? undefined : one.get(k);
      return r === undefined ? undefined : letterOf(r);
    },
    markRedriven(id, at, by = null) {
      const k = letterKey(id);
      return k !== null && redriven.run(at, by, k).changes > 0;
    },
    deleteDead(id) {
      const k = letterKey(id);
      return k !== null && del.run(k).changes > 0;
    },
    trimDead(cap) {
      return db.transaction(() => {
        const now = totals.get();
        if (now === undefined || (now.n <= cap.maxRows && (now.bytes ?? 0) <= cap.maxBytes)) return { dropped: 0, bytes: 0 };
        const keep = trimTarget(cap);
        const c = cutoff.get(keep.maxRows, keep.maxBytes);
        if (c === undefined) return { dropped: 0, bytes: 0 };
        const d = doomed.get(c.id);
        dropOlder.run(c.id);
        return { dropped: d?.n ?? 0, bytes: d?.bytes ?? 0 };
      })();
    },
    deadCount: () => count.get()?.n ?? 0,
  };
}
