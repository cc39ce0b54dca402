import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openStore } from '../../engine/store/index.js';
import { startInstance, TestEnv } from './fixtures/saga.js';

const bytes = (...b: number[]) => new Uint8Array(b);

/** Rows in the outbox table, read on a connection of its own. */
const outboxRows = (file: string): number => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox').get()?.n ?? -1;
  } finally {
    db.close();
  }
};

t.test('outbox: seq order, markSent deletes, backlog; a repeated message id is skipped while unsent', async (t) => {
  const store = openStore(join(t.testdir(), 'm.db'));
  t.teardown(() => store.close());
  // A view into a larger buffer: only its own bytes are stored.
  const view = new Uint8Array([9, 0, 255, 7, 9]).subarray(1, 4);
  store.enqueue([
    { messageId: 'm-1', subject: 'a.commands', headers: { 'Nats-Msg-Id': 'm-1' }, data: view },
    { messageId: 'm-2', subject: 'b.commands', headers: {}, data: bytes() },
  ], 10);
  store.enqueue([{ messageId: 'm-3', subject: 'a.commands', headers: { x: 'y' }, data: bytes(1) }], 11);
  store.enqueue([{ messageId: 'm-1', subject: 'changed', headers: {}, data: bytes(2) }], 12);

  const rows = store.unsent(10);
  t.same(rows.map((r) => r.messageId), ['m-1', 'm-2', 'm-3']);
  t.ok(rows[0] !== undefined && rows[1] !== undefined && rows[0].seq < rows[1].seq);
  t.match(rows[0], { subject: 'a.commands', headers: { 'Nats-Msg-Id': 'm-1' }, createdAt: 10 });
  t.same([...(rows[0]?.data ?? [])], [0, 255, 7]);
  t.same([...(rows[1]?.data ?? [1])], []);
  t.ok(rows[0]?.data instanceof Uint8Array);
  t.equal(store.backlog(), 3);
  t.same(store.unsent(2).map((r) => r.messageId), ['m-1', 'm-2']);

  store.markSent([rows[0]?.seq ?? 0, rows[2]?.seq ?? 0], 20);
  store.markSent([rows[0]?.seq ?? 0], 99);
  t.same(store.unsent(10).map((r) => r.messageId), ['m-2']);
  t.equal(store.backlog(), 1);
  t.equal(store.oldestUnsentAt(), 10);
  t.same(store.unsentBySeq(rows.map((r) => r.seq)).map((r) => r.messageId), ['m-2']);
  t.equal(outboxRows(store.file), 1, 'the sent rows are deleted, not kept');
  t.equal(store.pruneSent(1e15), 0, 'nothing is left to prune');
  store.enqueue([{ messageId: 'm-1', subject: 'again', headers: {}, data: bytes(3) }], 30);
  const last = store.unsent(10);
  t.same(last.map((r) => r.messageId), ['m-2', 'm-1'], 'once sent, the id may be used again');
  t.ok((last[1]?.seq ?? 0) > (rows[2]?.seq ?? Infinity), 'seqs keep growing past deleted rows');
  store.markSent(last.map((r) => r.seq), 40);
  t.equal(store.backlog(), 0);
  t.equal(store.oldestUnsentAt(), null);
  store.enqueue([{ messageId: 'm-4', subject: 'a.commands', headers: {}, data: bytes(4) }], 50);
  t.ok((store.unsent(1)[0]?.seq ?? 0) > (last[1]?.seq ?? Infinity), 'an emptied table does not hand out a seq again');
});

t.test('inbox: seen, remember, prune', async (t) => {
  const store = openStore(join(t.testdir(), 'm.db'));
  t.teardown(() => store.close());
  t.notOk(store.seen('e-1'));
  t.equal(store.remember('e-1', 100), true, 'newly recorded');
  t.equal(store.remember('e-1', 500), false, 'already recorded');
  store.remember('e-2', 200);
  t.ok(store.seen('e-1'));
  t.equal(store.pruneInbox(200), 1, 'e-1 keeps its first time, 100');
  t.notOk(store.seen('e-1'));
  t.ok(store.seen('e-2'));

  // The prune goes in the order ids were remembered (no index on the time): one remembered
  // later with an earlier time (a clock stepped back) stays until those before it go.
  store.remember('e-3', 400);
  store.remember('e-4', 150);
  t.equal(store.pruneInbox(300), 1, 'e-2 (200) goes; e-4 (150) waits behind e-3 (400)');
  t.same(['e-2', 'e-3', 'e-4'].map((id) => store.seen(id)), [false, true, true]);
  t.equal(store.pruneInbox(401), 2, 'all old: all go');
  t.equal(store.pruneInbox(401), 0);
  t.equal(store.remember('e-5', 500), true, 'an emptied inbox takes ids again');
  t.equal(store.pruneInbox(500), 0, 'an id remembered at the cut-off time stays');
  t.equal(store.pruneInbox(501), 1);
});

t.test('commands and waits route messages to their instance', async (t) => {
  const store = openStore(join(t.testdir(), 'm.db'));
  t.teardown(() => store.close());
  const env = new TestEnv();
  const s = startInstance(store, env, 'i-1');
  startInstance(store, env, 'i-2');
  startInstance(store, env, 'i-3');

  const sent = s.steps['reserve']?.awaiting ?? '';
  t.same(store.lookupCommand(sent), { instanceId: 'i-1', step: 'reserve', kind: 'do' }, 'indexed by the fixture, as the runtime does');
  store.indexCommand('cmd-u', 'i-1', 'reserve', 'undo');
  t.same(store.lookupCommand('cmd-u'), { instanceId: 'i-1', step: 'reserve', kind: 'undo' });
  t.equal(store.lookupCommand('nope'), undefined);
  store.indexCommand(sent, 'i-2', 'other', 'undo');
  t.same(store.lookupCommand(sent), { instanceId: 'i-1', step: 'reserve', kind: 'do' }, 'an id indexed again keeps its first row');

  store.addWait('pay.events', 'Paid', 'i-1', 'await-pay', 'c-1');
  store.addWait('pay.events', 'Paid', 'i-2', 'await-pay', null);
  store.addWait('pay.events', 'Paid', 'i-3', 'await-pay', 'c-3');
  store.addWait('pay.events', 'Refunded', 'i-2', 'await-refund', 'c-2');
  const paid = [{ instanceId: 'i-1', step: 'await-pay' }, { instanceId: 'i-2', step: 'await-pay' }];
  t.same(store.waiting('pay.events', 'Paid', 'c-1'), paid, 'its own correlation id and any, oldest wait first');
  t.same(store.waiting('pay.events', 'Paid', 'c-3'), [{ instanceId: 'i-2', step: 'await-pay' }, { instanceId: 'i-3', step: 'await-pay' }]);
  t.same(store.waiting('pay.events', 'Paid', 'c-9'), [{ instanceId: 'i-2', step: 'await-pay' }], 'another correlation id: only the wait of any');
  t.same(store.waiting('pay.events', 'Paid', ''), [{ instanceId: 'i-2', step: 'await-pay' }], 'an event without one too');
  store.addWait('pay.events', 'Settled', 'i-1', 'await-pay', null);
  t.same(store.waiting('pay.events', 'Paid', 'c-1'), [{ instanceId: 'i-2', step: 'await-pay' }], 'a step waits for one thing at a time');
  t.same(store.waiting('pay.events', 'Settled', 'c-9'), [{ instanceId: 'i-1', step: 'await-pay' }], 'its correlation id replaced too');
  store.removeWait('i-2', 'await-pay');
  store.removeWait('i-3', 'await-pay');
  store.removeWait('i-2', 'never-added');
  t.same(store.waiting('pay.events', 'Paid', 'c-3'), []);
  t.same(store.waiting('pay.events', 'Refunded', 'c-2'), [{ instanceId: 'i-2', step: 'await-refund' }]);
  t.same(store.waiting('pay.events', 'Refunded', 'c-1'), []);
});

t.test('definitions are kept by hash, first source wins', async (t) => {
  const store = openStore(join(t.testdir(), 'm.db'));
  t.teardown(() => store.close());
  store.rememberDefinition('h-1', 'order', '{"v":1}', 10);
  store.rememberDefinition('h-1', 'order', '{"v":"other"}', 20);
  store.rememberDefinition('h-2', 'order', '{"v":2}', 15);
  t.equal(store.getDefinitionSource('h-1'), '{"v":1}');
  t.equal(store.getDefinitionSource('h-3'), undefined);
  t.same(store.listDefinitions(), [{ hash: 'h-1', name: 'order', firstSeenAt: 10 }, { hash: 'h-2', name: 'order', firstSeenAt: 15 }]);
});
