import type { InstanceStatus } from '../../core/index.js';
import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import { HEAD_BYTES, letterKey, letterOf, pageOfLetters, summaryOf, trimTarget } from '../dlq.js';
import type { InstanceFilter, InstanceSummary } from '../list.js';
import type { StorePort } from '../port.js';
import type { Db } from './db.js';
import { INPUT_STATUSES } from '../definitions.js';

type Operators = Pick<StorePort, 'listInstances' | 'park' | 'listDead' | 'getDead' | 'markRedriven' | 'deleteDead' | 'trimDead' |
  'rememberDefinition' | 'getDefinitionSource' | 'listDefinitions' | 'hashesInUse' | 'gauges'>;

interface SummaryRow {
  id: string; saga: string; definition_hash: string; key: string | null; correlation_id: string;
  status: InstanceStatus; created_at: number; updated_at: number; version: number;
}
interface LetterRow {
  id: number; subject: string; reason: string; headers: string; data: Buffer;
  received_at: number; delivery_count: number; redriven_at: number | null; redriven_by: string | null;
}

const filters = [
  ['saga', 'saga'], ['status', 'status'], ['key', 'key'], ['correlationId', 'correlation_id'],
] as const;

const letterColumns = 'id, subject, reason, headers, data, received_at, delivery_count, redriven_at, redriven_by';
// octet_length of a stored bytea reads its size, not the body: a list stays small however big the bodies.
const summaryColumns = `id, subject, reason, headers, octet_length(data) AS size, substring(data from 1 for ${HEAD_BYTES}) AS head,
  received_at, delivery_count, redriven_at, redriven_by`;

interface SummaryLetterRow extends Omit<LetterRow, 'data'> { size: number; head: Buffer }

/**
 * What operators read and the API manages: the instance list (newest first, with the same
 * position cursor as the SQLite store, so paging is stable while instances are added), dead
 * letters, definitions and the gauges.
 */
export function operators(d: Db): Operators {
  return {
    async listInstances(filter: InstanceFilter = {}) {
      const limit = clampLimit(filter.limit);
      const where: string[] = [];
      const values: unknown[] = [];
      for (const [name, column] of filters) {
        const v = filter[name];
        if (v === undefined || v === null) continue;
        values.push(v);
        where.push(`${column} = $${values.length}`);
      }
      if (filter.since !== undefined && filter.since !== null) {
        values.push(filter.since);
        where.push(`created_at >= $${values.length}`);
      }
      if (filter.until !== undefined && filter.until !== null) {
        values.push(filter.until);
        where.push(`created_at <= $${values.length}`);
      }
      const cursor = filter.cursor ?? null;
      if (cursor !== null) {
        const [at, id] = decodeCursor(cursor, ['number', 'string'] as const);
        values.push(at, id);
        where.push(`(created_at, id) < ($${values.length - 1}, $${values.length})`);
      }
      values.push(limit + 1);
      const rows = await d.query<SummaryRow>(`
        SELECT id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version FROM instances
        ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
        ORDER BY created_at DESC, id DESC LIMIT $${values.length}`, values);
      const items = rows.slice(0, limit).map((r): InstanceSummary => ({
        id: r.id, saga: r.saga, definitionHash: r.definition_hash, key: r.key, correlationId: r.correlation_id,
        status: r.status, createdAt: r.created_at, updatedAt: r.updated_at, version: r.version,
      }));
      const last = items.at(-1);
      return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor([last.createdAt, last.id]) : null };
    },

    async park(l, deliveryId) {
      const values = [l.subject, l.reason, JSON.stringify(l.headers), Buffer.from(l.data.buffer, l.data.byteOffset, l.data.byteLength), l.at, l.deliveryCount];
      // With a delivery id, the inbox row and the letter are one statement: a second park of the delivery stores nothing.
      const [r] = deliveryId === undefined
        ? await d.query<{ id: number }>(
          'INSERT INTO dead_letters (subject, reason, headers, data, received_at, delivery_count) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id', values)
        : await d.query<{ id: number }>(`
          WITH first AS (INSERT INTO inbox (message_id, at) VALUES ($7, $5) ON CONFLICT (message_id) DO NOTHING RETURNING 1)
          INSERT INTO dead_letters (subject, reason, headers, data, received_at, delivery_count)
          SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM first) RETURNING id`, [...values, deliveryId]);
      return r === undefined ? null : String(r.id);
    },
    async listDead(opts = {}) {
      const limit = clampLimit(opts.limit);
      const cursor = opts.cursor ?? null;
      const rows = cursor === null
        ? await d.query<SummaryLetterRow>(`SELECT ${summaryColumns} FROM dead_letters ORDER BY id DESC LIMIT $1`, [limit + 1])
        : await d.query<SummaryLetterRow>(`SELECT ${summaryColumns} FROM dead_letters WHERE id < $1 ORDER BY id DESC LIMIT $2`,
          [decodeCursor(cursor, ['number'] as const)[0], limit + 1]);
      return pageOfLetters(rows.map(summaryOf), limit, opts.maxBytes);
    },
    async getDead(id) {
      const k = letterKey(id);
      if (k === null) return undefined;
      const [r] = await d.query<LetterRow>(`SELECT ${letterColumns} FROM dead_letters WHERE id = $1`, [k]);
      return r === undefined ? undefined : letterOf(r);
    },
    async markRedriven(id, at, by = null) {
      const k = letterKey(id);
      // Only a letter not yet redriven: two operators (or replicas) redriving at once publish it once.
      return k !== null && (await d.run('UPDATE dead_letters SET redriven_at = $1, redriven_by = $2 WHERE id = $3 AND redriven_at IS NULL', [at, by, k])) > 0;
    },
    async deleteDead(id) {
      const k = letterKey(id);
      return k !== null && (await d.run('DELETE FROM dead_letters WHERE id = $1', [k])) > 0;
    },
    async trimDead(cap) {
      const [now] = await d.query<{ n: number; bytes: string | null }>('SELECT count(*)::integer AS n, sum(octet_length(data))::bigint AS bytes FROM dead_letters');
      if (now === undefined || (now.n <= cap.maxRows && Number(now.bytes ?? 0) <= cap.maxBytes)) return { dropped: 0, bytes: 0 };
      const keep = trimTarget(cap);
      // The newest letter that no longer fits, among all but the newest (always kept): it and everything older go, in one statement.
      const [r] = await d.query<{ dropped: number; bytes: number }>(`
        WITH ranked AS (
          SELECT id, row_number() OVER w AS n, sum(octet_length(data)) OVER w AS total FROM dead_letters WINDOW w AS (ORDER BY id DESC)),
        cut AS (SELECT max(id) AS id FROM ranked WHERE n > 1 AND (n > $1 OR total > $2)),
        gone AS (DELETE FROM dead_letters WHERE id <= (SELECT id FROM cut) RETURNING octet_length(data) AS size)
        SELECT count(*)::integer AS dropped, coalesce(sum(size), 0)::bigint AS bytes FROM gone`, [keep.maxRows, keep.maxBytes]);
      return { dropped: r?.dropped ?? 0, bytes: Number(r?.bytes ?? 0) };
    },

    async rememberDefinition(hash, name, source, at = Date.now()) {
      await d.run('INSERT INTO definitions (hash, name, source, first_seen_at) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING',
        [hash, name, source, at]);
    },
    async getDefinitionSource(hash) {
      const [r] = await d.query<{ source: string }>('SELECT source FROM definitions WHERE hash = $1', [hash]);
      return r?.source;
    },
    listDefinitions: () => d.query<{ hash: string; name: string; firstSeenAt: number }>(
      'SELECT hash, name, first_seen_at AS "firstSeenAt" FROM definitions ORDER BY first_seen_at, hash'),
    async hashesInUse() {
      const rows = await d.query<{ h: string }>(
        `SELECT DISTINCT definition_hash AS h FROM instances WHERE status IN (${INPUT_STATUSES.map((x) => `'${x}'`).join(', ')}) ORDER BY 1`);
      return rows.map((r) => r.h);
    },
    async gauges() {
      const [instances, counts] = await Promise.all([
        d.query<{ saga: string; status: InstanceStatus; count: number }>(
          'SELECT saga, status, count(*)::integer AS count FROM instances GROUP BY saga, status ORDER BY saga, status'),
        d.query<{ timers: number; backlog: number; oldest: number | null; dead: number }>(`SELECT
          (SELECT count(*)::integer FROM timers) AS timers,
          (SELECT count(*)::integer FROM outbox WHERE sent_at IS NULL) AS backlog,
          (SELECT min(created_at) FROM outbox WHERE sent_at IS NULL) AS oldest,
          (SELECT count(*)::integer FROM dead_letters WHERE redriven_at IS NULL) AS dead`),
      ]);
      const c = counts[0];
      return { instances, timersPending: c?.timers ?? 0, outboxBacklog: c?.backlog ?? 0, outboxOldestAt: c?.oldest ?? null, deadLetters: c?.dead ?? 0 };
    },
  };
}
