import { SagaError } from '../errors.js';
import { decodeCursor, encodeCursor } from '../store/cursor.js';
import type { StorePort } from '../store/port.js';
import type { RebuildReport } from '../store/rebuild-plan.js';

/** One instance by id, or a page of all of them (`all`, from `cursor`, `limit` at a time). */
export interface RebuildRequest {
  readonly id?: string | undefined;
  readonly all?: boolean | undefined;
  readonly cursor?: string | null | undefined;
  readonly limit?: number | undefined;
}

/** What a rebuild checked and changed; `items` are the changed instances only when rebuilding all. */
export interface RebuildPage {
  readonly checked: number;
  readonly changed: number;
  readonly items: readonly RebuildReport[];
  readonly nextCursor: string | null;
}

/** What the admin route needs of the engine: rebuilding instance rows from the journal. */
export interface Rebuilder {
  rebuildInstances(req: RebuildRequest): Promise<RebuildPage>;
}

/** Instances rebuilt in one page of `all` by default, and at most. */
export const REBUILD_PAGE = { default: 200, max: 1000 } as const;

/**
 * Rebuilds the instance named by `req.id`, or one page of every instance with a journal, each
 * through `rebuildOne` (which the engine runs under the instance's lock, so no input of this
 * process interleaves). Idempotent: a second run over the same instances changes nothing.
 */
export async function rebuildPage(store: StorePort, rebuildOne: (id: string) => Promise<RebuildReport>, req: RebuildRequest): Promise<RebuildPage> {
  if ((req.id === undefined) === (req.all !== true)) throw new SagaError('SAGA_ERR_INVALID_INPUT', 'name one instance (id) or ask for all of them (all: true), not both');
  if (req.id !== undefined) {
    const report = await rebuildOne(req.id);
    return { checked: 1, changed: report.changed ? 1 : 0, items: [report], nextCursor: null };
  }
  const limit = Math.min(REBUILD_PAGE.max, Math.max(1, Math.trunc(req.limit ?? REBUILD_PAGE.default)));
  const after = req.cursor === undefined || req.cursor === null ? null : decodeCursor(req.cursor, ['string'] as const)[0];
  const ids = await store.journalInstanceIds(after, limit);
  const items: RebuildReport[] = [];
  for (const id of ids) {
    let report: RebuildReport;
    try {
      report = await rebuildOne(id);
    } catch (err) {
      // Retired by retention since the page was read (it works on the oldest, as this does
      // on the lowest ids): nothing left to rebuild, and the rest of the page goes on.
      if (err instanceof SagaError && err.code === 'SAGA_ERR_NOT_FOUND') continue;
      throw err;
    }
    if (report.changed) items.push(report);
  }
  const last = ids.at(-1);
  return { checked: ids.length, changed: items.length, items, nextCursor: ids.length === limit && last !== undefined ? encodeCursor([last]) : null };
}
