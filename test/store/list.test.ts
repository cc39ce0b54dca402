import { join } from 'node:path';
import t from 'tap';
import type { InstanceState } from '../../engine/core/index.js';
import { openStore, StoreErrorCode, type InstanceFilter, type InstanceSummary, type Store } from '../../engine/store/index.js';
import { feed, saga, startInstance, TestEnv } from './fixtures/saga.js';

const refund = { ...saga, name: 'refund' };

/** 120 instances: three per millisecond (ties broken by id), two sagas, some cancelled, some keyed. */
function populate(store: Store, env: TestEnv): InstanceState[] {
  const all: InstanceState[] = [];
  for (let i = 0; i < 120; i++) {
    if (i % 3 === 0) env.now += 1;
    // Ids out of creation order, so the id tie-break is really exercised.
    const id = `i-${String((i * 37) % 120).padStart(3, '0')}`;
    let s = startInstance(store, env, id, {
      def: i % 4 === 0 ? refund : saga, key: i % 5 === 0 ? `k-${i}` : null, correlationId: `c-${i % 2}`,
    });
    if (i % 6 === 0) s = feed(store, env, s, { type: 'CancelRequested', reason: 'test' });
    all.push(s);
  }
  return all;
}

const newestFirst = (a: InstanceState, b: InstanceState) => b.createdAt - a.createdAt || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0);

function pages(store: Store, filter: InstanceFilter): { ids: string[]; sizes: number[] } {
  const ids: string[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  do {
    const page = store.listInstances({ ...filter, cursor });
    ids.push(...page.items.map((i) => i.id));
    sizes.push(page.items.length);
    cursor = page.nextCursor;
  } while (cursor !== null && sizes.length < 100);
  return { ids, sizes };
}

t.test('listing: every filter, paging through nextCursor', async (t) => {
  const store = openStore(join(t.testdir(), 'l.db'));
  t.teardown(() => store.close());
  const env = new TestEnv();
  const all = populate(store, env).sort(newestFirst);
  const expect = (pred: (s: InstanceState) => boolean) => all.filter(pred).map((s) => s.id);

  const everything = pages(store, { limit: 50 });
  t.same(everything.sizes, [50, 50, 20]);
  t.same(everything.ids, expect(() => true), 'all 120, each once, newest first, ties by id desc');

  const first = store.listInstances();
  t.equal(first.items.length, 50, 'default limit');
  const summary = first.items[0] as InstanceSummary;
  const state = all[0] as InstanceState;
  t.strictSame(summary, {
    id: state.id, saga: state.saga, definitionHash: 'hash-1', key: state.key, correlationId: state.correlationId,
    status: state.status, createdAt: state.createdAt, updatedAt: state.updatedAt, version: state.version,
  });

  const cases: [string, InstanceFilter, (s: InstanceState) => boolean][] = [
    ['saga', { saga: 'refund' }, (s) => s.saga === 'refund'],
    ['status', { status: 'compensating' }, (s) => s.status === 'compensating'],
    ['saga and status', { saga: 'order', status: 'running' }, (s) => s.saga === 'order' && s.status === 'running'],
    ['key', { key: 'k-35' }, (s) => s.key === 'k-35'],
    ['correlationId', { correlationId: 'c-1' }, (s) => s.correlationId === 'c-1'],
    ['since', { since: all[30]?.createdAt ?? 0 }, (s) => s.createdAt >= (all[30]?.createdAt ?? 0)],
    ['everything at once', { saga: 'order', status: 'running', correlationId: 'c-0', since: 0 },
      (s) => s.saga === 'order' && s.status === 'running' && s.correlationId === 'c-0'],
    ['nothing matches', { saga: 'nope' }, () => false],
  ];
  for (const [name, filter, pred] of cases) {
    const want = expect(pred);
    const got = pages(store, { ...filter, limit: 7 });
    t.same(got.ids, want, `${name}: ${want.length} in order across pages`);
    t.equal(got.sizes.length, Math.max(1, Math.ceil(want.length / 7)), `${name}: no empty trailing page`);
  }
  t.ok(expect((s) => s.status === 'compensating').length > 0, 'the fixture has cancelled instances');
});

t.test('paging is stable while instances are added, limits are clamped, foreign cursors refused', async (t) => {
  const store = openStore(join(t.testdir(), 'l.db'));
  t.teardown(() => store.close());
  const env = new TestEnv();
  const all = populate(store, env).sort(newestFirst);

  const p1 = store.listInstances({ limit: 50 });
  env.now += 1000;
  startInstance(store, env, 'i-new');
  const p2 = store.listInstances({ limit: 50, cursor: p1.nextCursor });
  const p3 = store.listInstances({ limit: 50, cursor: p2.nextCursor });
  t.same([...p1.items, ...p2.items, ...p3.items].map((i) => i.id), all.map((s) => s.id), 'the newcomer does not shift later pages');
  t.equal(p3.nextCursor, null);
  t.equal(store.listInstances({ limit: 50 }).items[0]?.id, 'i-new');

  t.equal(store.listInstances({ limit: 0 }).items.length, 1);
  t.equal(store.listInstances({ limit: 10_000 }).items.length, 121);
  t.equal(store.listInstances({ limit: 2.7 }).items.length, 2);

  for (const cursor of ['nope', '', Buffer.from('[1]').toString('base64url'), Buffer.from('["a","b"]').toString('base64url')]) {
    t.throws(() => store.listInstances({ cursor }), { code: StoreErrorCode.BadCursor }, `cursor ${JSON.stringify(cursor)}`);
  }
});
