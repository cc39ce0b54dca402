import type { ErrorCode } from '../error-codes.js';
import { SagaError } from '../errors.js';
import { decodeCursor, encodeCursor } from '../store/cursor.js';
import { isStoreUnavailable, StoreErrorCode } from '../store/errors.js';
import type { StorePort } from '../store/port.js';
import type { RebuildReport } from '../store/rebuild-plan.js';

/** One instance by id, or a page of all of them (`all`, from `cursor`, `limit` at a time). */
export interface RebuildRequest {
  readonly id?: string | undefined;
  readonly all?: boolean | undefined;
  readonly cursor?: string | null | undefined;
  readonly limit?: number | undefined;
}

/**
 * An instance of a page of `all` that could not be rebuilt (a journal row this build cannot
 * read, a replay that fails, a key another instance's row holds): nothing of it was written.
 */
export interface RebuildFailure {
  readonly id: string;
  readonly changed: false;
  readonly differences: readonly [];
  readonly error: { readonly code: string; readonly message: string };
}

/** One instance of a rebuild's answer: what differed, or why it could not be rebuilt. */
export type RebuildItem = RebuildReport | RebuildFailure;

/**
 * What a rebuild checked and changed; `items` are, when rebuilding all, the changed instances
 * and those that failed (`checked` counts both, `changed` the changed ones).
 */
export interface RebuildPage {
  readonly checked: number;
  readonly changed: number;
  readonly items: readonly RebuildItem[];
  readonly nextCursor: string | null;
}

/** What the admin route needs of the engine: rebuilding instance rows from the journal. */
export interface Rebuilder {
  rebuildInstances(req: RebuildRequest): Promise<RebuildPage>;
}

/** Instances rebuilt in one page of `all` by default, and at most. */
export const REBUILD_PAGE = { default: 200, max: 1000 } as const;

/**
 * Pure: true for a failure of the store itself rather than of one instance (unreachable, read
 * only, misconfigured): every instance after it would fail the same, so the page fails, and the
 * same request may succeed later.
 */
function storeWide(err: unknown): boolean {
  const code = err instanceof SagaError ? err.code : undefined;
  return isStoreUnavailable(err) || code === StoreErrorCode.StoreConfig || code === StoreErrorCode.ReadOnly || code === 'SAGA_ERR_NOT_READY';
}

/** Pure: the code of an error as the API answers it: its own, or internal for one without (a bug, an I/O error). */
const codeOf = (err: unknown): ErrorCode => (err instanceof SagaError ? err.code : 'SAGA_ERR_INTERNAL');

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Rebuilds the instance named by `req.id`, or one page of every instance with a journal, each
 * through `rebuildOne` (which the engine runs under the instance's lock, so no input of this
 * process interleaves). Idempotent: a second run over the same instances changes nothing. One
 * instance throws what failed, its id in the message; in a page of all, an instance that fails
 * is reported among the items and the page goes on, so that one bad instance neither hides the
 * rewrites before it nor stops every later page. A failure of the store fails the page.
 */
export async function rebuildPage(store: StorePort, rebuildOne: (id: string) => Promise<RebuildReport>, req: RebuildRequest): Promise<RebuildPage> {
  if ((req.id === undefined) === (req.all !== true)) throw new SagaError('SAGA_ERR_INVALID_INPUT', 'name one instance (id) or ask for all of them (all: true), not both');
  if (req.id !== undefined) {
    const id = req.id;
    const report = await rebuildOne(id).catch((err: unknown) => {
      // Not found names the instance already (and the CLI answers it by its code).
      if (storeWide(err) || (err instanceof SagaError && err.code === StoreErrorCode.NotFound)) throw err;
      throw new SagaError(codeOf(err), `cannot rebuild instance ${id}: ${messageOf(err)}`, { cause: err });
    });
    return { checked: 1, changed: report.changed ? 1 : 0, items: [report], nextCursor: null };
  }
  const limit = Math.min(REBUILD_PAGE.max, Math.max(1, Math.trunc(req.limit ?? REBUILD_PAGE.default)));
  const after = req.cursor === undefined || req.cursor === null ? null : decodeCursor(req.cursor, ['string'] as const)[0];
  const ids = await store.journalInstanceIds(after, limit);
  const items: RebuildItem[] = [];
  let changed = 0;
  for (const id of ids) {
    try {
      const report = await rebuildOne(id);
      if (report.changed) {
        items.push(report);
        changed += 1;
      }
    } catch (err) {
      if (storeWide(err)) throw err;
      // Retired by retention since the page was read (it works on the oldest, as this does
      // on the lowest ids): nothing left to rebuild, and the rest of the page goes on.
      if (err instanceof SagaError && err.code === StoreErrorCode.NotFound) continue;
      items.push({ id, changed: false, differences: [], error: { code: codeOf(err), message: messageOf(err) } });
    }
  }
  const last = ids.at(-1);
  return { checked: ids.length, changed, items, nextCursor: ids.length === limit && last !== undefined ? encodeCursor([last]) : null };
}
