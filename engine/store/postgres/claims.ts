import type { TimerRef } from '../../core/index.js';
import type { Headers } from '../bytes.js';
import type { OutboxRow } from '../outbox.js';
import type { StorePort } from '../port.js';
import { SWEEP_START, type TimerKey, type TimerRow, type TimerSweep } from '../timers.js';
import type { Db } from './db.js';

/** Inbox rows `pruneInbox` deletes per statement. */
export const INBOX_PRUNE_BATCH = 10_000;

type Claims = Pick<StorePort, 'claimDueTimers' | 'nextDueAt' | 'timersOf' | 'claimUnsent' | 'unsentBySeq' | 'markSent' | 'parkOutboxRow' | 'pruneInbox' | 'pruneSent'>;

interface TimerDbRow { instance_id: string; timer_id: string; due_at: number; data: string }
interface OutboxDbRow { seq: number; message_id: string; subject: string; headers: string; data: Buffer; created_at: number; follows?: string[] | null }

const toRow = (r: OutboxDbRow): OutboxRow => {
  const row: OutboxRow = { seq: r.seq, messageId: r.message_id, subject: r.subject, headers: JSON.parse(r.headers) as Headers, data: r.data, createdAt: r.created_at };
  // An int8 array comes as strings (only plain int8 has a parser, adapter.ts).
  return r.follows === undefined || r.follows === null || r.follows.length === 0 ? row : { ...row, follows: r.follows.map(Number) };
};
const toTimer = (r: TimerDbRow): TimerRow => ({ instanceId: r.instance_id, timerId: r.timer_id, dueAt: r.due_at, data: JSON.parse(r.data) as TimerRef });
const byDue = (a: TimerRow, b: TimerRow): number =>
  a.dueAt - b.dueAt || (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0) || (a.timerId < b.timerId ? -1 : a.timerId > b.timerId ? 1 : 0);
/** Text as COLLATE "C" orders it: by UTF-8 bytes, which JavaScript's `<` (UTF-16 units) does not always agree with. */
const byBytes = (a: string, b: string): number => (a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b)));
/** Keys in the sweep's order, the query's own. */
const byKey = (a: TimerKey, b: TimerKey): number => a.dueAt - b.dueAt || byBytes(a.instanceId, b.instanceId) || byBytes(a.timerId, b.timerId);

/**
 * A page of a sweep through the due timers: the claimable ones after `sweep.after`, by
 * (due_at, instance_id, timer_id), and the sweep moved to the last of them. Claimed rows are
 * skipped, but the claims of rows the caller holds back (a timer that keeps failing) run out
 * every claimMs: without the cursor, a replica holding more of them than it re-claims in a
 * claimMs would read the same held rows again and again and never reach the rows behind them.
 * The index is on due_at alone: the row comparison starts its scan at the cursor's due time,
 * and ties are sorted (incrementally) in the C collation, whose order `byKey` knows: a
 * database's own collation orders text as its locale does, which JavaScript cannot follow.
 */
async function claimAfter(d: Db, now: number, limit: number, claimMs: number, sweep: TimerSweep): Promise<TimerRow[]> {
  const after = sweep.after ?? SWEEP_START;
  const rows = (await d.query<TimerDbRow>(`
    WITH due AS (
      SELECT instance_id, timer_id FROM timers
      WHERE due_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
        AND (due_at, instance_id COLLATE "C", timer_id COLLATE "C") > ($4::bigint, $5::text, $6::text)
      ORDER BY due_at, instance_id COLLATE "C", timer_id COLLATE "C" LIMIT $2
      FOR UPDATE SKIP LOCKED)
    UPDATE timers t SET claimed_until = $1::bigint + $3::bigint FROM due
    WHERE t.instance_id = due.instance_id AND t.timer_id = due.timer_id
    RETURNING t.instance_id, t.timer_id, t.due_at, t.data`,
  [now, limit, claimMs, after.dueAt, after.instanceId, after.timerId], 'sagad_claim_timers_after')).map(toTimer);
  // Fewer than asked: none claimable was left behind them, and the next page starts over.
  const last = rows.reduce<TimerRow | null>((max, r) => (max === null || byKey(r, max) > 0 ? r : max), null);
  sweep.after = rows.length < limit || last === null ? null : { dueAt: last.dueAt, instanceId: last.instanceId, timerId: last.timerId };
  return rows.sort(byDue);
}

/**
 * Timers and outbox rows shared by replicas. A claim stamps `claimed_until` on rows taken with
 * `FOR UPDATE SKIP LOCKED`: two replicas claiming at once get disjoint rows, a claimed row is
 * not handed out again before its claim runs out, and a dead replica's claims simply expire.
 */
export function claims(d: Db): Claims {
  return {
    // Ordered by due_at alone, so that the index scan stops at `limit` even with a backlog of
    // due timers (after downtime); ties are sorted here.
    async claimDueTimers(now, limit, claimMs, sweep) {
      if (sweep !== undefined) return claimAfter(d, now, limit, claimMs, sweep);
      const rows = await d.query<TimerDbRow>(`
        WITH due AS (
          SELECT instance_id, timer_id FROM timers
          WHERE due_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
          ORDER BY due_at LIMIT $2
          FOR UPDATE SKIP LOCKED)
        UPDATE timers t SET claimed_until = $1::bigint + $3::bigint FROM due
        WHERE t.instance_id = due.instance_id AND t.timer_id = due.timer_id
        RETURNING t.instance_id, t.timer_id, t.due_at, t.data`, [now, limit, claimMs], 'sagad_claim_timers');
      return rows.map(toTimer).sort(byDue);
    },
    // A timer claimed by another replica is not ours to fire before its claim runs out: the
    // earliest time a claim can succeed, so that a timer service sleeping until then does not spin.
    async nextDueAt() {
      const [r] = await d.query<{ at: number | null }>(`
        SELECT least((SELECT min(due_at) FROM timers WHERE claimed_until IS NULL),
                     (SELECT min(greatest(due_at, claimed_until)) FROM timers WHERE claimed_until IS NOT NULL)) AS at`,
      [], 'sagad_next_due');
      return r?.at ?? null;
    },
    async timersOf(instanceId) {
      const rows = await d.query<TimerDbRow>(
        'SELECT instance_id, timer_id, due_at, data FROM timers WHERE instance_id = $1 ORDER BY due_at, timer_id', [instanceId], 'sagad_timers_of');
      return rows.map(toTimer);
    },
    async claimUnsent(limit, createdBefore, claimMs) {
      const now = Date.now();
      // claimMs 0 looks without claiming (the relay asking whether anything is left): no row
      // lock, no write.
      const rows = claimMs <= 0 ? await d.query<OutboxDbRow>(`
        SELECT seq, message_id, subject, headers, data, created_at FROM outbox
        WHERE sent_at IS NULL AND created_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $2)
        ORDER BY seq LIMIT $3`, [createdBefore, now, limit], 'sagad_peek_unsent') : await d.query<OutboxDbRow>(`
        WITH c AS (
          SELECT seq FROM outbox
          WHERE sent_at IS NULL AND created_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $2)
          ORDER BY seq LIMIT $3
          FOR UPDATE SKIP LOCKED),
        u AS (
          UPDATE outbox o SET claimed_until = $2::bigint + $4::bigint FROM c WHERE o.seq = c.seq
          RETURNING o.seq, o.message_id, o.subject, o.headers, o.data, o.created_at, o.instance_id)
        SELECT u.seq, u.message_id, u.subject, u.headers, u.data, u.created_at,
          (SELECT array_agg(p.seq ORDER BY p.seq) FROM outbox p
           WHERE p.instance_id = u.instance_id AND p.sent_at IS NULL AND p.seq < u.seq AND p.seq NOT IN (SELECT seq FROM c)) AS follows
        FROM u`, [createdBefore, now, limit, claimMs], 'sagad_claim_unsent');
      // A row skipped as claimed (or locked) by another replica may be older than one of its
      // instance's rows taken here: `follows` names it, so that this relay sends it first.
      return rows.map(toRow).sort((a, b) => a.seq - b.seq);
    },
    async unsentBySeq(seqs) {
      if (seqs.length === 0) return [];
      const rows = await d.query<OutboxDbRow>(`
        SELECT seq, message_id, subject, headers, data, created_at FROM outbox
        WHERE seq = ANY ($1::bigint[]) AND sent_at IS NULL ORDER BY seq`, [seqs], 'sagad_unsent_by_seq');
      return rows.map(toRow);
    },
    // A published row is deleted (schema 7): a delete writes no index entry, where setting
    // sent_at wrote a new row version and its entries in the seq and message id indexes.
    // Committed without waiting for the WAL flush: a mark lost in a crash only re-sends those
    // messages with their stable ids, which JetStream and participants drop (DESIGN section 1).
    async markSent(seqs) {
      if (seqs.length === 0) return;
      for (const s of seqs) if (!Number.isSafeInteger(s)) throw new RangeError(`markSent takes integers, not ${s}`);
      // One simple-protocol query of two statements is one implicit transaction (no parameters
      // there, hence the checked integers inline); without BEGIN, a failure leaves no open one.
      await d.run(`SET LOCAL synchronous_commit = off;
        DELETE FROM outbox WHERE seq = ANY ('{${seqs.join(',')}}'::bigint[])`);
    },
    // One statement: the letter only when this statement deleted the unsent row; a replica that
    // sent or parked it first leaves none (the delete waits on its lock, then finds it gone).
    async parkOutboxRow(seq, l) {
      const [r] = await d.query<{ id: number }>(`
        WITH gone AS (DELETE FROM outbox WHERE seq = $1 AND sent_at IS NULL RETURNING 1)
        INSERT INTO dead_letters (subject, reason, headers, data, received_at, delivery_count)
        SELECT $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM gone) RETURNING id`,
      [seq, l.subject, l.reason, JSON.stringify(l.headers), Buffer.from(l.data.buffer, l.data.byteOffset, l.data.byteLength), l.at, l.deliveryCount]);
      return r === undefined ? null : String(r.id);
    },
    // In batches, each statement its own short transaction: a pass has about an hour of
    // inbox ids to forget (millions under load, on every replica), which one statement would
    // delete holding its snapshot and writing its WAL all at once. A batch is the first old
    // rows a scan finds, deleted by their ctids (a TID scan, no index lookup per row), which
    // cannot change within the statement.
    async pruneInbox(olderThan) {
      let total = 0;
      for (;;) {
        const n = await d.run('DELETE FROM inbox WHERE ctid = ANY (ARRAY(SELECT ctid FROM inbox WHERE at < $1 LIMIT $2))', [olderThan, INBOX_PRUNE_BATCH]);
        total += n;
        // Fewer than a batch: none left, or another replica is pruning the same rows.
        if (n < INBOX_PRUNE_BATCH) return total;
      }
    },
    // Only rows marked sent before schema 7 have a sent_at; the BRIN index on it narrows the
    // scan to their pages, and once they are gone the prune finds none.
    pruneSent: (olderThan) => d.run('DELETE FROM outbox WHERE sent_at < $1', [olderThan]),
  };
}
