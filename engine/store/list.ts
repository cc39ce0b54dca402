import type Database from 'better-sqlite3';
import type { InstanceStatus } from '../core/index.js';
import { clampLimit, decodeCursor, encodeCursor, type Page } from './cursor.js';

/** An instance as the list shows it: the projection row without the state document. */
export interface InstanceSummary {
  readonly id: string;
  readonly saga: string;
  readonly definitionHash: string;
  readonly key: string | null;
  readonly correlationId: string;
  readonly status: InstanceStatus;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly version: number;
}

/** Filters of `listInstances`; all optional and combined with AND. */
export interface InstanceFilter {
  readonly saga?: string;
  readonly status?: InstanceStatus;
  readonly key?: string;
  readonly correlationId?: string;
  /** Only instances created at or after this epoch ms. */
  readonly since?: number;
  /** Only instances created at or before this epoch ms. */
  readonly until?: number;
  /** Page size, default 50, clamped to 1..500. */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string | null;
}

export interface InstanceList {
  /**
   * One page of instances, newest first (created_at desc, id desc). The cursor is a position,
   * so paging is stable while instances are added: each existing one is seen exactly once.
   * Throws `SAGA_ERR_BAD_CURSOR` for a cursor this list did not hand out.
   */
  listInstances(filter?: InstanceFilter): Page<InstanceSummary>;
}

interface Row {
  id: string; saga: string; definition_hash: string; key: string | null; correlation_id: string;
  status: InstanceStatus; created_at: number; updated_at: number; version: number;
}

const filters = [
  ['saga', 'saga = ?'],
  ['status', 'status = ?'],
  ['key', 'key = ?'],
  ['correlationId', 'correlation_id = ?'],
  ['since', 'created_at >= ?'],
  ['until', 'created_at <= ?'],
] as const;

/** Prepares each filter combination's statement once, on its first use. */
export function instanceList(db: Database.Database): InstanceList {
  const cache = new Map<string, Database.Statement<unknown[], Row>>();
  const statement = (used: readonly string[], paged: boolean) => {
    const id = `${used.join(',')}|${paged}`;
    let stmt = cache.get(id);
    if (stmt === undefined) {
      const where: string[] = filters.filter(([name]) => used.includes(name)).map(([, sql]) => sql);
      if (paged) where.push('(created_at, id) < (?, ?)');
      stmt = db.prepare<unknown[], Row>(`
        SELECT id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version FROM instances
        ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
        ORDER BY created_at DESC, id DESC LIMIT ?`);
      cache.set(id, stmt);
    }
    return stmt;
  };

  return {
    listInstances(filter = {}) {
      const limit = clampLimit(filter.limit);
      const used: string[] = [];
      const params: unknown[] = [];
      for (const [name] of filters) {
        const value = filter[name];
        if (value === undefined || value === null) continue;
        used.push(name);
        params.push(value);
      }
      const cursor = filter.cursor ?? null;
      if (cursor !== null) params.push(...decodeCursor(cursor, ['number', 'string'] as const));
      const rows = statement(used, cursor !== null).all(...params, limit + 1);
      const items = rows.slice(0, limit).map((r): InstanceSummary => ({
        id: r.id, saga: r.saga, definitionHash: r.definition_hash, key: r.key, correlationId: r.correlation_id,
        status: r.status, createdAt: r.created_at, updatedAt: r.updated_at, version: r.version,
      }));
      const last = items.at(-1);
      return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor([last.createdAt, last.id]) : null };
    },
  };
}
