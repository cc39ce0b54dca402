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

export interface DeadLetter {
  /** Decimal string of an ever-increasing integer. */
  readonly id: string;
  readonly subject: string;
  readonly reason: string;
  readonly headers: Headers;
  readonly data: Uint8Array;
  readonly receivedAt: number;
  readonly deliveryCount: number;
  readonly redrivenAt: number | null;
}

/** The dead-letter queue: nothing is dropped silently. */
export interface DeadLetters {
  /** Stores the message byte for byte and returns its id. */
  park(letter: DeadLetterInput): string;
  /** One page of dead letters, newest first; throws `SAGA_ERR_BAD_CURSOR` for a foreign cursor. */
  listDead(opts?: { limit?: number; cursor?: string | null }): Page<DeadLetter>;
  getDead(id: string): DeadLetter | undefined;
  /** Marks the letter redriven; false when there is no such letter. */
  markRedriven(id: string, at: number): boolean;
  /** Deletes the letter; false when there is no such letter. */
  deleteDead(id: string): boolean;
  /** Number of letters not yet redriven. */
  deadCount(): number;
}

interface Row {
  id: number; subject: string; reason: string; headers: string; data: Buffer;
  received_at: number; delivery_count: number; redriven_at: number | null;
}

/** Dead letters not redriven (`deadCount`), also run by the background thread. */
export const DEAD_COUNT_SQL = 'SELECT count(*) AS n FROM dead_letters WHERE redriven_at IS NULL';

const columns = 'id, subject, reason, headers, data, received_at, delivery_count, redriven_at';

function toLetter(r: Row): DeadLetter {
  return {
    id: String(r.id), subject: r.subject, reason: r.reason, headers: JSON.parse(r.headers) as Headers, data: r.data,
    receivedAt: r.received_at, deliveryCount: r.delivery_count, redrivenAt: r.redriven_at,
  };
}

/** A dead letter id as its integer key, or null when it cannot be one. */
function key(id: string): number | null {
  return /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : null;
}

/** Prepares the dead-letter statements once. */
export function deadLetters(db: Database.Database): DeadLetters {
  const insert = db.prepare<[string, string, string, Buffer, number, number]>(
    'INSERT INTO dead_letters (subject, reason, headers, data, received_at, delivery_count) VALUES (?, ?, ?, ?, ?, ?)');
  const first = db.prepare<[number], Row>(`SELECT ${columns} FROM dead_letters ORDER BY id DESC LIMIT ?`);
  const after = db.prepare<[number, number], Row>(`SELECT ${columns} FROM dead_letters WHERE id < ? ORDER BY id DESC LIMIT ?`);
  const one = db.prepare<[number], Row>(`SELECT ${columns} FROM dead_letters WHERE id = ?`);
  const redriven = db.prepare<[number, number]>('UPDATE dead_letters SET redriven_at = ? WHERE id = ?');
  const del = db.prepare<[number]>('DELETE FROM dead_letters WHERE id = ?');
  const count = db.prepare<[], { n: number }>(DEAD_COUNT_SQL);

  return {
    park: (l) => String(insert.run(l.subject, l.reason, JSON.stringify(l.headers), toBuffer(l.data), l.at, l.deliveryCount).lastInsertRowid),
    listDead(opts = {}) {
      const limit = clampLimit(opts.limit);
      const cursor = opts.cursor ?? null;
      const rows = cursor === null ? first.all(limit + 1) : after.all(decodeCursor(cursor, ['number'] as const)[0], limit + 1);
      const items = rows.slice(0, limit).map(toLetter);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor([Number(last.id)]) : null };
    },
    getDead(id) {
      const k = key(id);
      const r = k === null ? undefined : one.get(k);
      return r === undefined ? undefined : toLetter(r);
    },
    markRedriven(id, at) {
      const k = key(id);
      return k !== null && redriven.run(at, k).changes > 0;
    },
    deleteDead(id) {
      const k = key(id);
      return k !== null && del.run(k).changes > 0;
    },
    deadCount: () => count.get()?.n ?? 0,
  };
}
