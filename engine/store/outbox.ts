import type Database from 'better-sqlite3';
import { toBuffer, type Headers } from './bytes.js';

/** A message to publish, written in the same transaction as the state change that caused it. */
export interface OutboxMessage {
  /** Stable id (the envelope's eventId, the `Nats-Msg-Id`); a second enqueue of it is ignored. */
  readonly messageId: string;
  readonly subject: string;
  readonly headers: Headers;
  readonly data: Uint8Array;
}

export interface OutboxRow extends OutboxMessage {
  readonly seq: number;
  readonly createdAt: number;
  /**
   * Older unsent rows of the same instance (seqs) that were not handed over with this row and
   * must be published before it: with replicas, rows another replica committed (and perhaps
   * died before sending). Absent when there are none, and always with SQLite (one process,
   * whose relay publishes in commit order).
   */
  readonly follows?: readonly number[];
}

/**
 * The transactional outbox: at-least-once publishing with stable message ids. The table holds
 * unsent messages only: a published one is deleted (migration 9).
 */
export interface Outbox {
  /** Appends the messages in order; a message id already in the outbox is skipped. Returns the rows it added. */
  enqueue(rows: readonly OutboxMessage[], at?: number): OutboxRow[];
  /** The oldest unsent messages, in enqueue (seq) order; with `createdBefore`, only those created at or before it. */
  unsent(limit: number, createdBefore?: number): OutboxRow[];
  /** Those of `seqs` still unsent, in seq order. */
  unsentBySeq(seqs: readonly number[]): OutboxRow[];
  /** Marks messages published by deleting them; seqs already gone are skipped. `at` is not kept. */
  markSent(seqs: readonly number[], at: number): void;
  /** Deletes an unsent message that will not be published (it is parked as a dead letter instead); false when it is gone. */
  withdraw(seq: number): boolean;
  /** Number of unsent messages. */
  backlog(): number;
  /** When the oldest unsent message was committed (epoch ms), or null when none waits. */
  oldestUnsentAt(): number | null;
  /** Sent messages are deleted as they are marked: none is left to prune, so 0. */
  pruneSent(olderThan: number): number;
}

/** Unsent messages (`backlog`) and the oldest one's time (`oldestUnsentAt`), also run by the background thread. */
export const BACKLOG_SQL = 'SELECT count(*) AS n, min(created_at) AS oldest FROM outbox';

interface Row { seq: number; message_id: string; subject: string; headers: string; data: Buffer; created_at: number }

const toRow = (r: Row): OutboxRow => ({
  seq: r.seq, messageId: r.message_id, subject: r.subject, headers: JSON.parse(r.headers) as Headers, data: r.data, createdAt: r.created_at,
});

/**
 * Prepares the outbox statements once. A row is inserted into the table and its unique index
 * on the message id, and deleted from both once published: no index on sent state to keep,
 * no second pass to prune. `synchronous` is the store's durability: deleting published rows
 * is committed without an fsync even at FULL, since losing such a delete in a power cut
 * only re-sends those messages with their stable ids, which JetStream and participants
 * drop as duplicates (DESIGN section 1, point 5); the fsync would stall every input behind it.
 */
export function outbox(db: Database.Database, synchronous: 'FULL' | 'NORMAL' = 'FULL'): Outbox {
  const insert = db.prepare<[string, string, string, Buffer, number]>(
    'INSERT INTO outbox (message_id, subject, headers, data, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING');
  // Every row is unsent: the table itself, in rowid (seq) order, is the queue.
  const pending = db.prepare<[number], Row>(
    'SELECT seq, message_id, subject, headers, data, created_at FROM outbox ORDER BY seq LIMIT ?');
  const pendingBefore = db.prepare<[number, number], Row>(
    'SELECT seq, message_id, subject, headers, data, created_at FROM outbox WHERE created_at <= ? ORDER BY seq LIMIT ?');
  const bySeq = db.prepare<[number], Row>('SELECT seq, message_id, subject, headers, data, created_at FROM outbox WHERE seq = ?');
  const sent = db.prepare<[number]>('DELETE FROM outbox WHERE seq = ?');
  const count = db.prepare<[], { n: number; oldest: number | null }>(BACKLOG_SQL);

  const enqueueRows = (rows: readonly OutboxMessage[], at: number): OutboxRow[] => {
    const added: OutboxRow[] = [];
    for (const r of rows) {
      const res = insert.run(r.messageId, r.subject, JSON.stringify(r.headers), toBuffer(r.data), at);
      if (res.changes === 1) added.push({ ...r, seq: Number(res.lastInsertRowid), createdAt: at });
    }
    return added;
  };
  const enqueueTx = db.transaction(enqueueRows);
  const markTx = db.transaction((seqs: readonly number[]) => {
    for (const seq of seqs) sent.run(seq);
  });

  return {
    enqueue: (rows, at = Date.now()) => (db.inTransaction ? enqueueRows : enqueueTx)(rows, at),
    unsent: (limit, createdBefore) => (createdBefore === undefined ? pending.all(limit) : pendingBefore.all(createdBefore, limit)).map(toRow),
    unsentBySeq: (seqs) => [...new Set(seqs)].sort((a, b) => a - b).flatMap((seq) => {
      const r = bySeq.get(seq);
      return r === undefined ? [] : [toRow(r)];
    }),
    markSent: (seqs) => {
      if (synchronous === 'NORMAL' || db.inTransaction) {
        markTx(seqs);
        return;
      }
      db.pragma('synchronous = NORMAL');
      try {
        markTx(seqs);
      } finally {
        db.pragma('synchronous = FULL');
      }
    },
    withdraw: (seq) => sent.run(seq).changes > 0,
    backlog: () => count.get()?.n ?? 0,
    oldestUnsentAt: () => count.get()?.oldest ?? null,
    pruneSent: () => 0,
  };
}
