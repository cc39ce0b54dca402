import { join } from 'node:path';
import t from 'tap';
import { openStore, StoreErrorCode } from '../../engine/store/index.js';

t.test('dead letters: binary data round-trips; list, redrive, delete', async (t) => {
  const store = openStore(join(t.testdir(), 'd.db'));
  t.teardown(() => store.close());
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const id = store.park({ subject: 'inventory.events', reason: 'not a JSON envelope', headers: { 'Nats-Msg-Id': 'x' }, data: all, deliveryCount: 3, at: 50 });
  t.type(id, 'string');
  const got = store.getDead(id);
  t.match(got, { id, subject: 'inventory.events', reason: 'not a JSON envelope', headers: { 'Nats-Msg-Id': 'x' }, receivedAt: 50, deliveryCount: 3, redrivenAt: null });
  t.ok(got !== undefined && Buffer.compare(Buffer.from(got.data), Buffer.from(all)) === 0, 'all 256 byte values intact');

  const ids = [id];
  for (let i = 1; i < 12; i++) ids.push(store.park({ subject: 's', reason: `r${i}`, headers: {}, data: new Uint8Array([i]), deliveryCount: 1, at: 50 + i }));
  t.equal(new Set(ids).size, 12);
  t.equal(store.deadCount(), 12);

  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page = store.listDead({ limit: 5, cursor });
    seen.push(...page.items.map((l) => l.id));
    cursor = page.nextCursor;
  } while (cursor !== null);
  t.same(seen, [...ids].reverse(), 'newest first, each once');
  t.equal(store.listDead().items.length, 12, 'default limit 50');
  t.throws(() => store.listDead({ cursor: 'garbage' }), { code: StoreErrorCode.BadCursor });

  t.ok(store.markRedriven(id, 99));
  t.equal(store.getDead(id)?.redrivenAt, 99);
  t.equal(store.deadCount(), 11, 'a redriven letter no longer counts');
  t.ok(store.deleteDead(ids[1] ?? ''));
  t.notOk(store.deleteDead(ids[1] ?? ''));
  t.equal(store.getDead(ids[1] ?? ''), undefined);
  for (const bad of ['0', '-1', 'abc', '1e3', '99999999999999999999', '']) {
    t.equal(store.getDead(bad), undefined, `id ${JSON.stringify(bad)}`);
    t.notOk(store.markRedriven(bad, 1));
    t.notOk(store.deleteDead(bad));
  }
});
