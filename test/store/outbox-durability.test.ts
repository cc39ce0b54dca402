import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { migrate, openStore } from '../../engine/store/index.js';
import { outbox } from '../../engine/store/outbox.js';

/** Marking rows sent skips the fsync, but the connection goes back to its configured durability. */
t.test('markSent commits without changing the connection level for anything else', async (t) => {
  const db = new Database(join(t.testdir(), 'o.db'));
  t.teardown(() => db.close());
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  migrate(db);
  const o = outbox(db, 'FULL');
  o.enqueue([{ messageId: 'm1', subject: 'a.b', headers: {}, data: new Uint8Array([1]) }, { messageId: 'm2', subject: 'a.b', headers: {}, data: new Uint8Array([2]) }]);
  const FULL = 2;
  o.markSent([o.unsent(1)[0]?.seq ?? -1], 1000);
  t.equal(db.pragma('synchronous', { simple: true }), FULL, 'back to FULL after the mark');
  t.same(o.unsent(10).map((r) => r.messageId), ['m2']);
  db.transaction(() => o.markSent([o.unsent(1)[0]?.seq ?? -1], 1001))();
  t.equal(o.backlog(), 0, 'inside a transaction the mark is part of it');
  t.equal(db.pragma('synchronous', { simple: true }), FULL);
});

t.test('a mark survives closing and reopening the store', async (t) => {
  const file = join(t.testdir(), 's.db');
  const store = openStore(file);
  store.enqueue([{ messageId: 'm1', subject: 'a.b', headers: {}, data: new Uint8Array([1]) }, { messageId: 'm2', subject: 'a.b', headers: {}, data: new Uint8Array([2]) }]);
  store.markSent([store.unsent(1)[0]?.seq ?? -1], 1000);
  store.close();
  const again = openStore(file);
  t.same(again.unsent(10).map((r) => r.messageId), ['m2']);
  again.close();
});
