import type { Test } from 'tap';
import type { StorePort } from '../../../engine/store/port.js';

/** Opens a fresh, empty store behind the port. */
export type FreshPort = () => Promise<StorePort>;

const letter = (i: number, data: Uint8Array, reason = `bad ${i}`) => ({ subject: `s.${i}`, reason, headers: { n: String(i) }, data, deliveryCount: 1, at: 1000 + i });

async function parkAll(port: StorePort, letters: ReturnType<typeof letter>[]): Promise<string[]> {
  const ids: string[] = [];
  for (const l of letters) {
    const id = await port.park(l);
    if (id === null) throw new Error('a park without a delivery id always stores');
    ids.push(id);
  }
  return ids;
}

/**
 * The dead-letter part of the store port's contract (issue 13): lists without bodies, pages
 * bounded by size, a letter redriven once, and the queue kept under its cap by dropping the
 * oldest; run against both adapters.
 */
export function deadLetterContract(t: Test, fresh: FreshPort): void {
  t.test('a list reads the size and first bytes of a body, never the body', async (t) => {
    const port = await fresh();
    t.teardown(() => port.close());
    const big = new Uint8Array(1_000_000).fill(0x61);
    const [id] = await parkAll(port, [letter(1, big)]);
    const [item] = (await port.listDead()).items;
    t.equal(item?.id, id);
    t.equal(item?.size, 1_000_000, 'the size of the body');
    t.ok(item !== undefined && item.head.byteLength <= 512 && item.head.byteLength > 0, 'only its first bytes', { got: item?.head.byteLength });
    t.notOk(item !== undefined && 'data' in item, 'no body in a list item');
    t.equal((await port.getDead(id ?? ''))?.data.byteLength, 1_000_000, 'one letter has its whole body');
    const [empty] = await parkAll(port, [letter(2, new Uint8Array())]);
    t.match((await port.listDead({ limit: 1 })).items[0], { id: empty, size: 0, head: Buffer.alloc(0) }, 'an empty body lists as empty (found by fuzzing)');
  });

  t.test('a page ends at its size budget as well as its count, and paging still sees every letter once', async (t) => {
    const port = await fresh();
    t.teardown(() => port.close());
    const ids = await parkAll(port, Array.from({ length: 7 }, (_, i) => letter(i, new Uint8Array([i]), `r${i} ${'x'.repeat(100_000)}`)));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await port.listDead({ limit: 50, cursor, maxBytes: 250_000 });
      t.ok(page.items.length >= 1 && page.items.length <= 2, `page ${pages}: at most two letters of 100 KB fit 250 KB`, { got: page.items.length });
      seen.push(...page.items.map((l) => l.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 20);
    t.same(seen, [...ids].reverse(), 'newest first, each once');
    t.equal(pages, 4);
    const tiny = await port.listDead({ limit: 50, maxBytes: 10 });
    t.equal(tiny.items.length, 1, 'a letter bigger than the budget comes alone, never an empty page');
    t.ok(tiny.nextCursor);
  });

  t.test('a letter is redriven once, and by whom is kept', async (t) => {
    const port = await fresh();
    t.teardown(() => port.close());
    const [id = ''] = await parkAll(port, [letter(1, new Uint8Array([1]))]);
    t.ok(await port.markRedriven(id, 500, 'alice'), 'the first redrive marks it');
    t.notOk(await port.markRedriven(id, 600, 'bob'), 'the second does not');
    t.match(await port.getDead(id), { redrivenAt: 500, redrivenBy: 'alice' });
    t.match((await port.listDead()).items[0], { redrivenAt: 500, redrivenBy: 'alice' });
    const [other = ''] = await parkAll(port, [letter(2, new Uint8Array([2]))]);
    const both = await Promise.all([port.markRedriven(other, 800, 'x'), port.markRedriven(other, 800, 'y')]);
    t.same(both.filter(Boolean).length, 1, 'two at once: one marks it');
    t.match(await port.getDead(other), { redrivenAt: 800, redrivenBy: both[0] ? 'x' : 'y' });
    t.notOk(await port.markRedriven('999999', 900), 'no such letter');
  });

  t.test('over its cap in rows or bytes the queue is trimmed to nine tenths of it, the oldest first', async (t) => {
    const port = await fresh();
    t.teardown(() => port.close());
    const ids = await parkAll(port, Array.from({ length: 10 }, (_, i) => letter(i, new Uint8Array(1000).fill(i))));
    t.same(await port.trimDead({ maxRows: 10, maxBytes: 10_000 }), { dropped: 0, bytes: 0 }, 'at the cap nothing goes');
    t.same(await port.trimDead({ maxRows: 8, maxBytes: 1_000_000 }), { dropped: 3, bytes: 3000 }, 'over 8 rows: down to 9 tenths of 8, 7 rows');
    t.same((await port.listDead()).items.map((l) => l.id), ids.slice(3).reverse(), 'the seven newest are kept');
    t.same(await port.trimDead({ maxRows: 100, maxBytes: 5000 }), { dropped: 3, bytes: 3000 }, 'over 5000 bytes: down to 4500, four bodies of 1000');
    t.same((await port.listDead()).items.map((l) => l.id), ids.slice(6).reverse());
    t.same(await port.trimDead({ maxRows: 100, maxBytes: 5000 }), { dropped: 0, bytes: 0 }, 'a second trim drops nothing');
    t.ok(await port.markRedriven(ids[9] ?? '', 1));
    t.same(await port.trimDead({ maxRows: 2, maxBytes: 5000 }), { dropped: 3, bytes: 3000 }, 'redriven or not, the oldest go');
    t.same((await port.listDead()).items.map((l) => l.id), [ids[9]]);
    t.equal((await port.gauges()).deadLetters, 0, 'the one left was redriven');
  });
}
