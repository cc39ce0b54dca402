import { StoreError, StoreErrorCode } from './errors.js';

/** A page of a list and the opaque cursor of the next page (null on the last page). */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/** Default and largest page size of every list. */
export const pageSize = { default: 50, max: 500 } as const;

/** The page size to use: `limit` clamped to 1..500, 50 when absent. */
export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return pageSize.default;
  return Math.min(pageSize.max, Math.max(1, Math.trunc(limit)));
}

/** Encodes a position in a list (the sort key of the last item shown) as an opaque string. */
export function encodeCursor(position: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor made by `encodeCursor` whose parts have the given types;
 * throws `SAGA_ERR_BAD_CURSOR` for anything else.
 */
export function decodeCursor<T extends readonly ('string' | 'number')[]>(
  cursor: string, shape: T,
): { [K in keyof T]: T[K] extends 'string' ? string : number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const ok = Array.isArray(parsed) && parsed.length === shape.length &&
    // No position handed out holds a NUL (ids and names are printable); PostgreSQL refuses one in text.
    parsed.every((v, i) => (shape[i] === 'number' ? Number.isSafeInteger(v) : typeof v === 'string' && !v.includes('\u0000')));
  if (!ok) throw new StoreError(StoreErrorCode.BadCursor, `cursor ${JSON.stringify(cursor)} was not handed out by this list`);
  return parsed as { [K in keyof T]: T[K] extends 'string' ? string : number };
}
