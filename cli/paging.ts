/** Following `nextCursor` for the lists: up to a number of items, or all of them. */
import type { Page } from '../engine/store/index.js';

/** The largest page the API hands out. */
export const MAX_PAGE = 500;

/**
 * Fetches pages from `cursor` on until `limit` items (or, with `all`, every item) are in
 * hand; the returned `nextCursor` continues right after the last item returned.
 */
export async function collect<T>(
  fetchPage: (limit: number, cursor: string | undefined) => Promise<Page<T>>,
  opts: { limit: number; all: boolean; cursor?: string | undefined },
): Promise<Page<T>> {
  const items: T[] = [];
  let cursor = opts.cursor;
  for (;;) {
    const want = opts.all ? MAX_PAGE : Math.min(MAX_PAGE, opts.limit - items.length);
    const page = await fetchPage(want, cursor);
    items.push(...page.items);
    if (page.nextCursor === null) return { items, nextCursor: null };
    cursor = page.nextCursor;
    if (!opts.all && items.length >= opts.limit) return { items, nextCursor: cursor };
  }
}
