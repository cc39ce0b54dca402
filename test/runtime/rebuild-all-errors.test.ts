import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { runCli } from '../../cli/program.js';
import { buildApi } from '../../engine/api/app.js';
import { rebuildPage, type RebuildPage } from '../../engine/runtime/rebuild.js';
import { StoreError, StoreErrorCode } from '../../engine/store/errors.js';
import { openSqlitePort } from '../../engine/store/sqlite-port.js';
import { started, TestEnv } from '../store/contract/writes.js';
import { rig } from './engine-rig.js';

/**
 * `admin rebuild --all` over instances that cannot be rebuilt, on a real SQLite file: one with
 * a journal row this build cannot read, one whose key another instance's row holds. Each is
 * reported in its page with its error, the page goes on (the rewrites around it reported, a
 * cursor handed out), and the CLI lists them and exits 1. One instance by id still fails, by
 * its id; a failure of the store still fails the page.
 */

/** A row a newer build wrote: StepSucceeded at a version this build does not know. */
function unreadableRow(raw: Database.Database, id: string): void {
  const { head } = raw.prepare<[string], { head: number }>('SELECT max(seq) AS head FROM journal WHERE instance_id = ?').get(id) ?? { head: 0 };
  raw.prepare("INSERT INTO journal (instance_id, seq, type, type_version, at, data) VALUES (?, ?, 'StepSucceeded', 99, 1, '{}')").run(id, head + 1);
}

async function world(t: { testdir(): string; teardown(fn: () => unknown): void }) {
  const file = join(t.testdir(), 'sagad.db');
  const env = new TestEnv();
  const first = await openSqlitePort(file);
  for (const id of ['a-1', 'b-2', 'c-3', 'd-4']) await started(first, env, id, { key: `k-${id}` });
  await first.close();
  const raw = new Database(file);
  // a-1 drifted: rewritten. b-2: unreadable. c-3 lost its key to d-4's drifted row: its
  // rewrite clashes, and d-4 gets its own key back.
  raw.prepare("UPDATE instances SET correlation_id = 'wrong' WHERE id = 'a-1'").run();
  unreadableRow(raw, 'b-2');
  raw.prepare("UPDATE instances SET key = 'other' WHERE id = 'c-3'").run();
  raw.prepare("UPDATE instances SET key = 'k-c-3' WHERE id = 'd-4'").run();
  raw.close();
  const port = await openSqlitePort(file);
  t.teardown(() => port.close());
  return port;
}

t.test('a page of all reports each instance that cannot be rebuilt, and goes on', async (t) => {
  const port = await world(t);
  const one = (id: string) => port.rebuildInstance(id);
  const pages: RebuildPage[] = [];
  let cursor: string | null = null;
  do {
    const page: RebuildPage = await rebuildPage(port, one, { all: true, limit: 2, cursor });
    pages.push(page);
    cursor = page.nextCursor;
  } while (cursor !== null && pages.length < 5);
  t.equal(pages.length, 3, 'every page, the last one empty');
  t.match(pages[0], {
    checked: 2, changed: 1, nextCursor: String,
    items: [
      { id: 'a-1', changed: true, differences: [{ path: 'row.correlationId', stored: 'wrong', rebuilt: 'c-a-1' }] },
      { id: 'b-2', changed: false, differences: [], error: { code: 'SAGA_ERR_UNREADABLE_EVENT', message: /StepSucceeded@99/ } },
    ],
  }, 'the rewrite before the unreadable instance is reported, and a cursor handed out');
  t.equal(pages[0]?.items.length, 2);
  t.match(pages[1], {
    checked: 2, changed: 1,
    items: [
      { id: 'c-3', changed: false, error: { code: 'SAGA_ERR_DUPLICATE_KEY', message: /k-c-3 of instance c-3/ } },
      { id: 'd-4', changed: true },
    ],
  }, 'an instance whose key another row holds, then that row rewritten');
  t.match(pages[2], { checked: 0, changed: 0, items: [], nextCursor: null });

  const summary = (p: RebuildPage) => p.items.map((i) => [i.id, i.changed, 'error' in i ? i.error.code : null]);
  t.same(summary(await rebuildPage(port, one, { all: true })), [['b-2', false, 'SAGA_ERR_UNREADABLE_EVENT'], ['c-3', true, null]],
    'a second run: c-3 gets its key, free now');
  t.same(summary(await rebuildPage(port, one, { all: true })), [['b-2', false, 'SAGA_ERR_UNREADABLE_EVENT']], 'a third: the unreadable one is left');

  await t.rejects(rebuildPage(port, one, { id: 'b-2' }), { code: 'SAGA_ERR_UNREADABLE_EVENT', message: /^cannot rebuild instance b-2: journal event StepSucceeded@99/ },
    'one instance by id fails, naming it');
  await t.rejects(rebuildPage(port, one, { id: 'nope' }), { code: 'SAGA_ERR_NOT_FOUND', message: 'instance nope has no journal' });

  const down = new StoreError(StoreErrorCode.StoreUnavailable, 'the store is down');
  await t.rejects(rebuildPage(port, async () => { throw down; }, { all: true }), down, 'a failure of the store fails the page');
  const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
  await t.rejects(rebuildPage(port, async () => { throw busy; }, { all: true }), busy, 'and so does a SQLite file held too long');
  const internal = await rebuildPage(port, async () => { throw new Error('a bug'); }, { all: true, limit: 1 });
  t.same(internal.items, [{ id: 'a-1', changed: false, differences: [], error: { code: 'SAGA_ERR_INTERNAL', message: 'a bug' } }], 'an error without a code is internal');
});

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

t.test('over the API and sagactl: the failed instance is in the page, listed, counted, and the exit code is 1', async (t) => {
  const dir = t.testdir();
  const r = rig({ testdir: () => dir, teardown: (fn) => t.teardown(fn) }, yaml);
  await r.engine.start({ saga: 'one', input: {}, id: 'inst-a' });
  const b = await r.engine.start({ saga: 'one', input: {}, id: 'inst-b' });
  r.store.saveInstance({ ...b.state, deadlineAt: 42 });
  const raw = new Database(join(dir, 'sagad.db'));
  unreadableRow(raw, 'inst-a');
  raw.close();
  const app = buildApi(r.engine, { token: 'op-token', rebuilder: r.engine });
  t.teardown(() => app.close());

  const res = await app.inject({ method: 'POST', url: '/v1/admin/rebuild', payload: { all: true }, headers: { authorization: 'Bearer op-token' } });
  t.equal(res.statusCode, 200);
  t.match(res.json(), {
    checked: 2, changed: 1, nextCursor: null,
    items: [{ id: 'inst-a', changed: false, differences: [], error: { code: 'SAGA_ERR_UNREADABLE_EVENT', message: /StepSucceeded@99/ } }, { id: 'inst-b', changed: true }],
  }, 'the error is in the answer (its schema keeps it)');
  const byId = await app.inject({ method: 'POST', url: '/v1/admin/rebuild', payload: { id: 'inst-a' }, headers: { authorization: 'Bearer op-token' } });
  t.match(byId.json(), { statusCode: 500, code: 'SAGA_ERR_UNREADABLE_EVENT', message: /^cannot rebuild instance inst-a: / });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const server = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const cli = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(['--server', server, '--token', 'op-token', ...args], { out: (s) => { out += s; }, err: (s) => { err += s; } });
    return { code, out, err };
  };
  r.store.saveInstance({ ...b.state, deadlineAt: 42 });
  const all = await cli('admin', 'rebuild', '--all', '--limit', '1');
  t.equal(all.code, 1, 'exit 1: one instance could not be rebuilt');
  t.match(all.out, /^inst-a: not rebuilt, nothing written: SAGA_ERR_UNREADABLE_EVENT: journal event StepSucceeded@99 .*\ninst-b: rewritten from the journal/);
  t.match(all.out, /Checked 2 instances; rewrote 1; 1 could not be rebuilt\.\n$/, 'the page after the failure was checked too');
  t.match(all.err, /^sagactl: 1 instance could not be rebuilt \(listed above\); the others were checked\n/);
  t.match(await cli('admin', 'rebuild', 'inst-a'), { code: 1, err: /^sagactl: cannot rebuild instance inst-a: journal event StepSucceeded@99 / }, 'one by id: its error, by its id');
  const json = await cli('-o', 'json', 'admin', 'rebuild', '--all');
  t.equal(json.code, 1);
  t.match(JSON.parse(json.out), { checked: 2, changed: 0, items: [{ id: 'inst-a', error: { code: 'SAGA_ERR_UNREADABLE_EVENT' } }] });
});
