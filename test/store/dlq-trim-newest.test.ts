import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { trimTarget } from '../../engine/store/dlq.js';
import type { StorePort } from '../../engine/store/port.js';
import { openPostgresStore } from '../../engine/store/postgres/index.js';
import { openSqlitePort } from '../../engine/store/sqlite-port.js';
import { startPostgres } from '../helpers/postgres.js';

/**
 * A trim follows each park, and it never drops the letter just parked: with SAGA_DLQ_MAX=1 the
 * second park deleted both letters, and with SAGA_DLQ_MAX_BYTES=1048576 a 100 KB letter then a
 * 1 MB one dropped both, though the newest alone fits. Run against both adapters.
 */
const dir = mkdtempSync(join(tmpdir(), 'sagad-dlq-newest-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const letter = (i: number, size: number) => ({ subject: `s.${i}`, reason: `bad ${i}`, headers: {}, data: new Uint8Array(size).fill(i), deliveryCount: 1, at: 1000 + i });

async function park(port: StorePort, i: number, size: number): Promise<string> {
  const id = await port.park(letter(i, size));
  if (id === null) throw new Error('a park without a delivery id always stores');
  return id;
}

const ids = async (port: StorePort) => (await port.listDead()).items.map((l) => l.id);

function newestKept(t: Test, fresh: () => Promise<StorePort>): void {
  t.test('a cap of one letter: each park keeps the letter just parked', async (t) => {
    const port = await fresh();
    t.teardown(() => port.close());
    const cap = { maxRows: 1, maxBytes: 1 << 30 };
    const first = await park(port, 1, 10);
    t.same(await port.trimDead(cap), { dropped: 0, bytes: 0 }, 'one letter is at the cap');
    const second = await park(port, 2, 10);
    t.same(await port.trimDead(cap), { dropped: 1, bytes: 10 }, 'the older one goes');
    t.same(await ids(port), [second], 'the newest stays');
    const third = await park(port, 3, 10);
    t.same(await port.trimDead(cap), { dropped: 1, bytes: 10 });
    t.same(await ids(port), [third]);
    t.not(first, third);
  });

  t.test('a letter that alone fits the byte cap is kept, the older ones go', async (t) => {
    const port = await fresh();
    t.teardown(() => port.close());
    const cap = { maxRows: 10_000, maxBytes: 1_048_576 };
    await park(port, 1, 100_000);
    const big = await park(port, 2, 1_000_000);
    t.same(await port.trimDead(cap), { dropped: 1, bytes: 100_000 }, 'only the 100 KB letter goes');
    t.same(await ids(port), [big], 'the 1 MB letter, the newest, stays though it is over nine tenths of the cap');
    t.same(await port.trimDead(cap), { dropped: 0, bytes: 0 }, 'alone it is within the cap');
  });

  t.test('the newest letter is kept even when it alone is over the cap', async (t) => {
    const port = await fresh();
    t.teardown(() => port.close());
    const cap = { maxRows: 100, maxBytes: 1000 };
    await park(port, 1, 100);
    await park(port, 2, 100);
    const huge = await park(port, 3, 5000);
    t.same(await port.trimDead(cap), { dropped: 2, bytes: 200 }, 'everything older goes');
    t.same(await ids(port), [huge], 'the letter just parked is never dropped by its own trim');
    const next = await park(port, 4, 10);
    t.same(await port.trimDead(cap), { dropped: 1, bytes: 5000 }, 'the next park lets it go');
    t.same(await ids(port), [next]);
  });
}

t.test('the target of a trim keeps at least one letter', async (t) => {
  t.same(trimTarget({ maxRows: 1, maxBytes: 1 }), { maxRows: 1, maxBytes: 0 });
  t.same(trimTarget({ maxRows: 10, maxBytes: 1000 }), { maxRows: 9, maxBytes: 900 });
});

t.test('sqlite', async (t) => {
  newestKept(t, () => openSqlitePort(join(dir, `${++files}.db`)));
});

t.test('postgres', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  newestKept(t, async () => openPostgresStore(await server.createDatabase()));
});
