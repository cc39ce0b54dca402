import type { StorePort } from '../port.js';
import { toEarlyEvent } from '../early-events.js';
import type { Db } from './db.js';

type EarlyOps = Pick<StorePort, 'keepEarlyEvent' | 'earlyEventsOf' | 'earlyEventsDue' | 'dropEarlyEvent' | 'parkEarlyEvent'>;

const columns = 'e.instance_id, e.event_id, e.subject, e.type, e.kept_at, e.expires_at, e.headers, e.data';

/**
 * Early events on PostgreSQL (see the store port). Keeping one is one statement: it inserts
 * unless the message was processed already (its id is in the inbox) or the instance already
 * keeps `max` (replicas keeping events for the same instance at the same moment may pass the
 * bound by a few), and tells a row kept before from a refusal.
 */
export function earlyEventOps(d: Db): EarlyOps {
  return {
    async keepEarlyEvent(e, max) {
      const [r] = await d.query<{ inserted: number; present: boolean; processed: boolean }>(`
        WITH seen AS (SELECT EXISTS (SELECT 1 FROM inbox WHERE message_id = $2) AS processed),
        ins AS (
          INSERT INTO early_events (instance_id, event_id, subject, type, kept_at, expires_at, headers, data)
          SELECT $1, $2, $3, $4, $5, $6, $7, $8
          WHERE NOT (SELECT processed FROM seen) AND (SELECT count(*) FROM early_events WHERE instance_id = $1) < $9
          ON CONFLICT (instance_id, event_id) DO NOTHING RETURNING 1)
        SELECT (SELECT count(*)::integer FROM ins) AS inserted,
               EXISTS (SELECT 1 FROM early_events WHERE instance_id = $1 AND event_id = $2) AS present,
               (SELECT processed FROM seen) AS processed`,
      [e.instanceId, e.eventId, e.subject, e.type, e.keptAt, e.expiresAt, JSON.stringify(e.headers), Buffer.from(e.data), max]);
      if (r?.processed === true) return 'processed';
      if (r !== undefined && (r.inserted > 0 || r.present)) return 'kept';
      // Neither inserted nor found: another replica keeping the same event at the same moment
      // committed its row while this statement's insert waited on it, after the snapshot the
      // statement reads. A statement of its own sees it; without it, the event was refused as
      // if the instance kept too many, and dead-lettered though kept.
      // Delivered and dropped by then, the event was processed (its id is in the inbox).
      const [again] = await d.query<{ present: boolean; processed: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM early_events WHERE instance_id = $1 AND event_id = $2) AS present,
                EXISTS (SELECT 1 FROM inbox WHERE message_id = $2) AS processed`, [e.instanceId, e.eventId]);
      return again?.present === true ? 'kept' : again?.processed === true ? 'processed' : 'full';
    },
    async earlyEventsOf(id) {
      const rows = await d.query<Parameters<typeof toEarlyEvent>[0]>(
        `SELECT ${columns} FROM early_events e WHERE e.instance_id = $1 ORDER BY e.kept_at, e.event_id`, [id]);
      return rows.map(toEarlyEvent);
    },
    async earlyEventsDue(now, limit, after = null) {
      // Once each (EXISTS: an instance may run two waits on it), after the sweep's cursor.
      const [deliverable, expired] = await Promise.all([
        d.query<Parameters<typeof toEarlyEvent>[0]>(`SELECT ${columns} FROM early_events e
          WHERE e.expires_at > $1 ${after === null ? '' : 'AND (e.kept_at, e.instance_id, e.event_id) > ($3, $4, $5)'}
            AND EXISTS (SELECT 1 FROM waits w WHERE w.instance_id = e.instance_id AND w.subject = e.subject AND w.type = e.type)
          ORDER BY e.kept_at, e.instance_id, e.event_id LIMIT $2`, after === null ? [now, limit] : [now, limit, after.keptAt, after.instanceId, after.eventId]),
        d.query<Parameters<typeof toEarlyEvent>[0]>(
          `SELECT ${columns} FROM early_events e WHERE e.expires_at <= $1 ORDER BY e.expires_at LIMIT $2`, [now, limit]),
      ]);
      return { deliverable: deliverable.map(toEarlyEvent), expired: expired.map(toEarlyEvent) };
    },
    async dropEarlyEvent(id, eventId) {
      await d.run('DELETE FROM early_events WHERE instance_id = $1 AND event_id = $2', [id, eventId]);
    },
    // One statement: the letter (and its inbox row, as `park` writes them) only when this
    // statement deleted the kept row; a replica that delivered or parked it first leaves none.
    // True only when it inserted the letter: a letter parked before under the delivery id
    // (a repeat) leaves the kept row deleted and nothing to count.
    async parkEarlyEvent(id, eventId, l, deliveryId) {
      const [r] = await d.query<{ parked: boolean }>(`
        WITH gone AS (DELETE FROM early_events WHERE instance_id = $1 AND event_id = $2 RETURNING 1),
        first AS (
          INSERT INTO inbox (message_id, at) SELECT $9, $7 WHERE EXISTS (SELECT 1 FROM gone)
          ON CONFLICT (message_id) DO NOTHING RETURNING 1),
        letter AS (
          INSERT INTO dead_letters (subject, reason, headers, data, received_at, delivery_count)
          SELECT $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM first) RETURNING 1)
        SELECT EXISTS (SELECT 1 FROM letter) AS parked`,
      [id, eventId, l.subject, l.reason, JSON.stringify(l.headers), Buffer.from(l.data.buffer, l.data.byteOffset, l.data.byteLength), l.at, l.deliveryCount, deliveryId]);
      return r?.parked === true;
    },
  };
}
