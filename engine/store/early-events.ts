import type Database from 'better-sqlite3';
import { toBuffer, type Headers } from './bytes.js';

/**
 * An event that arrived before the `wait` step that awaits it started, kept for one instance
 * (issue 12): offered to the instance when such a wait starts, dead-lettered once it expires.
 * The bytes are the message as it arrived, so a dead letter of it can be redriven.
 */
export interface EarlyEvent {
  readonly instanceId: string;
  readonly eventId: string;
  readonly subject: string;
  readonly type: string;
  readonly keptAt: number;
  readonly expiresAt: number;
  readonly headers: Headers;
  readonly data: Uint8Array;
}

/**
 * What keeping an early event came to: kept (now or before); refused because the instance
 * keeps its maximum; or not kept because the message was processed already (its id is in the
 * inbox: a redelivery after the ack was lost, whose write will find it a duplicate).
 */
export type KeepOutcome = 'kept' | 'full' | 'processed';

/**
 * Where the sweep goes on through the deliverable early events: the last one it was handed, in
 * (keptAt, instanceId, eventId) order. Offered again, a kept event that the wait it could go to
 * does not take (its `match` is false) stays deliverable until it expires; the sweep pages
 * past such events instead of being handed the same first page at every round.
 */
export interface EarlyEventKey {
  readonly keptAt: number;
  readonly instanceId: string;
  readonly eventId: string;
}

/** Early events as the SQLite store keeps them; see the store port for the contract. */
export interface EarlyEvents {
  keepEarlyEvent(e: EarlyEvent, maxPerInstance: number): KeepOutcome;
  earlyEventsOf(instanceId: string): EarlyEvent[];
  earlyEventsDue(now: number, limit: number, after?: EarlyEventKey | null): { deliverable: EarlyEvent[]; expired: EarlyEvent[] };
  dropEarlyEvent(instanceId: string, eventId: string): void;
  /** Forgets a kept early event; true when it was there (for a dead letter of it, in the caller's transaction). */
  takeEarlyEvent(instanceId: string, eventId: string): boolean;
}

interface Row {
  instance_id: string; event_id: string; subject: string; type: string; kept_at: number; expires_at: number; headers: string; data: Buffer;
}

const columns = 'e.instance_id, e.event_id, e.subject, e.type, e.kept_at, e.expires_at, e.headers, e.data';

/** Pure: a stored row as an early event. */
export function toEarlyEvent(r: Row): EarlyEvent {
  return {
    instanceId: r.instance_id, eventId: r.event_id, subject: r.subject, type: r.type, keptAt: Number(r.kept_at), expiresAt: Number(r.expires_at),
    headers: JSON.parse(r.headers) as Headers, data: r.data,
  };
}

/** Prepares the early-event statements once; `keepEarlyEvent` runs in its own transaction. */
export function earlyEvents(db: Database.Database): EarlyEvents {
  const count = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM early_events WHERE instance_id = ?');
  const has = db.prepare<[string, string], { n: number }>('SELECT 1 AS n FROM early_events WHERE instance_id = ? AND event_id = ?');
  const insert = db.prepare<[string, string, string, string, number, number, string, Buffer]>(
    'INSERT INTO early_events (instance_id, event_id, subject, type, kept_at, expires_at, headers, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const of = db.prepare<[string], Row>(`SELECT ${columns} FROM early_events e WHERE e.instance_id = ? ORDER BY e.kept_at, e.event_id`);
  // A kept event whose instance now waits for it, while it is still valid: a delivery that was
  // missed (a crash, a race). Once each (EXISTS, not a join: an instance may run two waits on it),
  // in the order of the sweep's cursor (EarlyEventKey).
  const waited = `EXISTS (SELECT 1 FROM waits w WHERE w.instance_id = e.instance_id AND w.subject = e.subject AND w.type = e.type)`;
  const order = 'ORDER BY e.kept_at, e.instance_id, e.event_id LIMIT ?';
  const deliverable = db.prepare<[number, number], Row>(`SELECT ${columns} FROM early_events e WHERE e.expires_at > ? AND ${waited} ${order}`);
  const deliverableAfter = db.prepare<[number, number, string, string, number], Row>(`SELECT ${columns} FROM early_events e
    WHERE e.expires_at > ? AND (e.kept_at, e.instance_id, e.event_id) > (?, ?, ?) AND ${waited} ${order}`);
  const expired = db.prepare<[number, number], Row>(`SELECT ${columns} FROM early_events e WHERE e.expires_at <= ? ORDER BY e.expires_at LIMIT ?`);
  const drop = db.prepare<[string, string]>('DELETE FROM early_events WHERE instance_id = ? AND event_id = ?');

  const processed = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM inbox WHERE message_id = ?');
  const keep = db.transaction((e: EarlyEvent, max: number): KeepOutcome => {
    if (processed.get(e.eventId) !== undefined) return 'processed';
    if (has.get(e.instanceId, e.eventId) !== undefined) return 'kept';
    if ((count.get(e.instanceId)?.n ?? 0) >= max) return 'full';
    insert.run(e.instanceId, e.eventId, e.subject, e.type, e.keptAt, e.expiresAt, JSON.stringify(e.headers), toBuffer(e.data));
    return 'kept';
  });

  return {
    keepEarlyEvent: (e, max) => keep.immediate(e, max),
    earlyEventsOf: (id) => of.all(id).map(toEarlyEvent),
    earlyEventsDue: (now, limit, after = null) => ({
      deliverable: (after === null ? deliverable.all(now, limit) : deliverableAfter.all(now, after.keptAt, after.instanceId, after.eventId, limit)).map(toEarlyEvent),
      expired: expired.all(now, limit).map(toEarlyEvent),
    }),
    dropEarlyEvent: (id, eventId) => void drop.run(id, eventId),
    takeEarlyEvent: (id, eventId) => drop.run(id, eventId).changes > 0,
  };
}
