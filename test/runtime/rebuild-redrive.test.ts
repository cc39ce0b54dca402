import t from 'tap';
import { decodeCursor } from '../../engine/store/cursor.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import type { DeadLetter } from '../../engine/store/index.js';
import { REBUILD_PAGE, rebuildPage } from '../../engine/runtime/rebuild.js';
import { redriveOnce, type Republish } from '../../engine/runtime/redrive.js';
import { rig } from './engine-rig.js';

/**
 * Two operator acts below the API (engine/runtime/rebuild.ts, redrive.ts) over the engine and a
 * real SQLite file: a rebuild of one instance or a page of all (the request's checks, the page
 * bounds and the cursor), and a dead letter's redrive (marked before it is published, once,
 * the mark taken back when publishing fails, logged with who asked).
 */
const yaml = `
sagas:
  - name: one
    defaults: { timeout: 10s }
    steps:
      - name: only
        pivot: true
        command: { subject: x.commands, type: Do }
        reply: { subject: x.events, success: [Done] }
`;

async function instances(t: Parameters<typeof rig>[0], n: number) {
  const r = rig(t, yaml);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await r.engine.start({ saga: 'one', input: {}, id: `inst-${i}` })).state.id);
  return { ...r, ids };
}

t.test('a rebuild names one instance or asks for all, not both and not neither', async (t) => {
  const { engine } = await instances(t, 1);
  const both = { code: 'SAGA_ERR_INVALID_INPUT', message: 'name one instance (id) or ask for all of them (all: true), not both' };
  await t.rejects(engine.rebuildInstances({ id: 'inst-0', all: true }), both);
  await t.rejects(engine.rebuildInstances({}), both);
  await t.rejects(engine.rebuildInstances({ all: false }), both, 'all: false is asking for none');
  t.same(await engine.rebuildInstances({ id: 'inst-0', all: false }), {
    checked: 1, changed: 0, items: [{ id: 'inst-0', changed: false, differences: [] }], nextCursor: null,
  }, 'one instance that agrees with its journal: reported, unchanged');
});

t.test('one instance that drifted is rewritten and reported as changed', async (t) => {
  const { engine, store } = await instances(t, 1);
  const before = store.getInstance('inst-0');
  if (before === undefined) throw new Error('no instance');
  store.saveInstance({ ...before, deadlineAt: 42 });
  const page = await engine.rebuildInstances({ id: 'inst-0' });
  t.match(page, { checked: 1, changed: 1, items: [{ id: 'inst-0', changed: true }], nextCursor: null });
  t.same(store.getInstance('inst-0'), before);
});

t.test('all: pages of `limit` instances with a cursor, only the changed ones listed; the limit is bounded', async (t) => {
  const { engine, store, ids } = await instances(t, 5);
  const drifted = store.getInstance('inst-3');
  if (drifted === undefined) throw new Error('no instance');
  store.saveInstance({ ...drifted, deadlineAt: 42 });

  const first = await engine.rebuildInstances({ all: true, limit: 2 });
  t.match(first, { checked: 2, changed: 0, items: [] });
  t.same(decodeCursor(first.nextCursor ?? '', ['string'] as const), [ids[1]], 'the cursor is the last id of the page');
  const second = await engine.rebuildInstances({ all: true, limit: 2.9, cursor: first.nextCursor });
  t.match(second, { checked: 2, changed: 1, items: [{ id: 'inst-3', changed: true }] }, 'a fractional limit is cut to a whole one');
  const last = await engine.rebuildInstances({ all: true, limit: 2, cursor: second.nextCursor });
  t.same(last, { checked: 1, changed: 0, items: [], nextCursor: null }, 'a short page is the last');

  t.match(await engine.rebuildInstances({ all: true }), { checked: 5, nextCursor: null }, `the default page (${REBUILD_PAGE.default}) takes all five`);
  t.match(await engine.rebuildInstances({ all: true, cursor: null }), { checked: 5 }, 'a null cursor is the start');
  const tiny = await engine.rebuildInstances({ all: true, limit: 0 });
  t.equal(tiny.checked, 1, 'a limit below one is one');
  t.not(tiny.nextCursor, null);
  t.equal((await engine.rebuildInstances({ all: true, limit: -5 })).checked, 1);

  // The upper bound, with the store's own page: a limit above it asks the store for REBUILD_PAGE.max.
  const asked: number[] = [];
  const port = sqlitePort(store);
  const counting = { ...port, journalInstanceIds: (after: string | null, limit: number) => { asked.push(limit); return port.journalInstanceIds(after, limit); } };
  await rebuildPage(counting, (id) => port.rebuildInstance(id), { all: true, limit: 5_000 });
  await rebuildPage(counting, (id) => port.rebuildInstance(id), { all: true });
  t.same(asked, [REBUILD_PAGE.max, REBUILD_PAGE.default]);

  // An instance retired between the page's read and its turn is skipped, not a failed page.
  const ids2 = await port.journalInstanceIds(null, 100);
  const gone = ids2[0] ?? '';
  const page = await rebuildPage(port, async (id) => {
    if (id === gone) return port.rebuildInstance('no-such-instance');
    return port.rebuildInstance(id);
  }, { all: true });
  t.match(page, { checked: ids2.length, nextCursor: null }, 'the page goes on past an instance gone meanwhile');
});

/** A dead letter parked in the rig's store. */
async function parked(r: Awaited<ReturnType<typeof instances>>): Promise<string> {
  const id = await r.engine.deps.store.park({ subject: 'x.events', reason: 'bad', headers: { h: 'v' }, data: new TextEncoder().encode('raw'), deliveryCount: 1, at: 1 });
  if (id === null) throw new Error('not parked');
  return id;
}

t.test('a redrive publishes once and says who asked; a second one is refused with the time of the first', async (t) => {
  const r = await instances(t, 0);
  const id = await parked(r);
  const sent: { subject: string; data: string; headers: Record<string, string>; msgId: string }[] = [];
  const republish: Republish = async (subject, data, headers, msgId) => { sent.push({ subject, data: new TextDecoder().decode(data), headers, msgId }); };
  const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const log = (level: string, msg: string, fields?: Record<string, unknown>) => { logs.push({ level, msg, fields }); };
  const letter = await redriveOnce(r.engine.deps.store, republish, log, id, { by: 'alice', reason: 'fixed the schema' });
  t.match(sent, [{ subject: 'x.events', data: 'raw', headers: { h: 'v' } }]);
  t.equal(letter.redrivenBy, 'alice');
  t.ok(letter.redrivenAt !== null, 'the letter returned is the one marked');
  t.same(logs, [{ level: 'info', msg: 'operator redrove a dead letter', fields: { action: 'redrive', deadLetter: id, subject: 'x.events', by: 'alice', reason: 'fixed the schema' } }]);
  await t.rejects(redriveOnce(r.engine.deps.store, republish, log, id, {}), {
    code: 'SAGA_ERR_ALREADY_REDRIVEN',
    message: `dead letter ${id} was redriven already at ${new Date(letter.redrivenAt ?? 0).toISOString()}; a letter is redriven once (if it failed again, it is a new letter)`,
  });
  t.equal(sent.length, 1, 'published once');

  const other = await parked(r);
  logs.length = 0;
  await redriveOnce(r.engine.deps.store, republish, log, other, {});
  t.same(logs[0]?.fields, { action: 'redrive', deadLetter: other, subject: 'x.events', by: null, reason: null }, 'an anonymous redrive logs nulls');
  t.equal((await r.engine.getDeadLetter(other))?.redrivenBy, null);
});

t.test('a publish that fails leaves the letter unmarked, so it can be redriven later', async (t) => {
  const r = await instances(t, 0);
  const id = await parked(r);
  const logs: string[] = [];
  await t.rejects(redriveOnce(r.engine.deps.store, async () => { throw new Error('no stream'); }, (_l, m) => { logs.push(m); }, id, { by: 'bob' }), { message: 'no stream' });
  const after = await r.engine.getDeadLetter(id);
  t.equal(after?.redrivenAt, null, 'not marked redriven');
  t.same(logs, [], 'nothing logged as redriven');
  let sent = 0;
  await redriveOnce(r.engine.deps.store, async () => { sent++; }, () => undefined, id, {});
  t.equal(sent, 1, 'redriven afterwards');
});

t.test('published but not marked (the store failed, or sagad died, in between): redriven again under the same message id', async (t) => {
  const r = await instances(t, 0);
  const port = r.engine.deps.store;
  const id = await parked(r);
  const ids: string[] = [];
  const republish: Republish = async (_s, _d, _h, msgId) => { ids.push(msgId); };
  const down = { ...port, markRedriven: async () => { throw new Error('database is locked'); } };
  await t.rejects(redriveOnce(down, republish, () => undefined, id, {}), { message: 'database is locked' });
  t.equal((await port.getDead(id))?.redrivenAt, null, 'the letter is not marked: nothing says it went out');
  await redriveOnce(port, republish, () => undefined, id, { by: 'carol' });
  t.equal(ids.length, 2);
  t.equal(ids[0], ids[1], 'one Nats-Msg-Id for both attempts: JetStream keeps one copy within its duplicate window');
  t.not(ids[0], '', 'and not the original\'s');
  t.equal((await port.getDead(id))?.redrivenBy, 'carol', 'marked once it is published');
});

t.test('JetStream\'s publish conditions among the letter\'s headers are left off; the rest are published as they arrived', async (t) => {
  const r = await instances(t, 0);
  const id = await r.engine.deps.store.park({
    subject: 'x.events', reason: 'bad', data: new TextEncoder().encode('raw'), deliveryCount: 1, at: 1,
    headers: { 'Nats-Expected-Last-Subject-Sequence': '1', 'nats-expected-last-msg-id': 'm', 'Nats-Rollup': 'sub', 'Nats-TTL': '1s', traceparent: 't', 'Saga-Id': 's', 'Nats-Msg-Id': 'orig' },
  });
  if (id === null) throw new Error('not parked');
  let sent: Record<string, string> = {};
  await redriveOnce(r.engine.deps.store, async (_s, _d, headers) => { sent = headers; }, () => undefined, id, {});
  t.same(sent, { traceparent: 't', 'Saga-Id': 's', 'Nats-Msg-Id': 'orig', 'Saga-Redrive-Of': id },
    'with the letter\'s id; the publish replaces Nats-Msg-Id with its own (transport/publish.ts)');
});

t.test('another replica marks the letter first: refused with its time; deleted meanwhile: not found', async (t) => {
  const r = await instances(t, 0);
  const port = r.engine.deps.store;
  const id = await parked(r);
  let published = 0;
  const republish: Republish = async () => { published++; };
  // Between this redrive's read and its mark, another replica marks it (at 5000) through the same database.
  const raced = { ...port, markRedriven: async (letter: string, at: number, by: string | null) => { await port.markRedriven(letter, 5_000, 'other'); return port.markRedriven(letter, at, by); } };
  await t.rejects(redriveOnce(raced, republish, () => undefined, id, {}), {
    code: 'SAGA_ERR_ALREADY_REDRIVEN', message: new RegExp(`^dead letter ${id} was redriven already at 1970-01-01T00:00:05.000Z;`),
  });
  t.equal(published, 1, 'this one published too, under the letter\'s own message id: JetStream keeps one copy');

  const gone = await parked(r);
  const deleting = { ...port, markRedriven: async () => { await port.deleteDead(gone); return false; } };
  await t.rejects(redriveOnce(deleting, republish, () => undefined, gone, {}), { code: 'SAGA_ERR_NOT_FOUND', message: `no dead letter ${gone}` });

  const vanishing = await parked(r);
  const afterPublish: Republish = async () => { await port.deleteDead(vanishing); };
  await t.rejects(redriveOnce(port, afterPublish, () => undefined, vanishing, {}), { code: 'SAGA_ERR_NOT_FOUND', message: `no dead letter ${vanishing}` }, 'purged while it was published');
  const letter: DeadLetter | undefined = await port.getDead(id);
  t.equal(letter?.redrivenBy, 'other');
});
