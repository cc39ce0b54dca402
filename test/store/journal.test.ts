import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import type { SagaEvent } from '../../engine/core/index.js';
import { openStore, StoreErrorCode, type Upcasters } from '../../engine/store/index.js';
import { feed, reply, startInstance, TestEnv } from './fixtures/saga.js';

t.test('append numbers events from the given version; history and eventsAfter read them back', async (t) => {
  const store = openStore(join(t.testdir(), 'j.db'));
  t.teardown(() => store.close());
  const env = new TestEnv();
  const s1 = startInstance(store, env, 'i-1');
  env.now += 10;
  const s2 = feed(store, env, s1, reply(s1, 'reserve', 'Done', env));
  t.equal(store.journalHead('i-1'), s2.version);
  t.equal(store.journalHead('nobody'), 0);

  const history = store.history('i-1');
  t.same(history.map((e) => e.seq), Array.from({ length: s2.version }, (_, i) => i + 1));
  t.same(history.map((e) => e.type), ['SagaStarted', 'StepDispatched', 'StepSucceeded', 'StepDispatched']);
  t.ok(history.every((e) => e.version === 1));
  t.same(history.map((e) => e.at), [env.now - 10, env.now - 10, env.now, env.now]);
  t.match(history[2]?.data, { type: 'StepSucceeded', step: 'reserve', output: { from: 'reserve', eventType: 'Done' } });

  t.same(store.eventsAfter('i-1', 2), history.slice(2).map((e) => e.data));
  t.same(store.eventsAfter('i-1', s2.version), []);
  t.same(store.history('nobody'), []);
});

t.test('optimistic concurrency: an append not at the head throws and writes nothing', async (t) => {
  const store = openStore(join(t.testdir(), 'j.db'));
  t.teardown(() => store.close());
  const at = 1;
  const started: SagaEvent = {
    type: 'SagaStarted', at, instanceId: 'i-1', saga: 'order', definitionHash: 'h', key: null, correlationId: 'c', input: {}, event: null, deadlineAt: null,
  };
  const next = (n: number): SagaEvent => ({ type: 'StepSkipped', at: at + n, step: `s${n}` });
  t.equal(store.append('i-1', 0, [started, next(1)]), 2);

  t.throws(() => store.append('i-1', 0, [started]), { code: StoreErrorCode.VersionConflict }, 'a stale writer');
  t.throws(() => store.append('i-1', 0, []), { code: StoreErrorCode.VersionConflict }, 'a stale writer of nothing');
  t.throws(() => store.append('i-1', 1, [next(2), next(3)]), { code: StoreErrorCode.VersionConflict }, 'a stale writer of two events');
  t.throws(() => store.append('i-1', 5, [next(6)]), { code: StoreErrorCode.VersionConflict }, 'a writer ahead of the journal');
  t.equal(store.journalHead('i-1'), 2);

  // The conflict undoes the rest of the surrounding transaction too, when it propagates.
  t.throws(() => store.tx(() => {
    store.remember('m-1', 1);
    store.append('i-1', 1, [next(2)]);
  }), { code: StoreErrorCode.VersionConflict });
  t.notOk(store.seen('m-1'));
  t.equal(store.append('i-1', 2, []), 2, 'an empty append at the head is a no-op');
  t.equal(store.append('i-1', 2, [next(3)]), 3);
});

t.test('the journal is append-only', async (t) => {
  const file = join(t.testdir(), 'j.db');
  const store = openStore(file);
  t.teardown(() => store.close());
  startInstance(store, new TestEnv(), 'i-1');
  const db = new Database(file);
  t.teardown(() => db.close());
  t.throws(() => db.prepare("UPDATE journal SET data = '{}' WHERE instance_id = 'i-1'").run(), /append-only/);
  t.throws(() => db.prepare("DELETE FROM journal WHERE instance_id = 'i-1'").run(), /append-only/);
});

t.test('old event versions are upcast on read; unreadable ones fail clearly', async (t) => {
  const file = join(t.testdir(), 'j.db');
  const upcasters: Upcasters = {
    StepSucceeded: { 0: ({ result, ...rest }) => ({ ...rest, output: result, pivot: false }) },
  };
  const store = openStore(file, { upcasters });
  t.teardown(() => store.close());
  store.append('old-1', 0, [{
    type: 'SagaStarted', at: 1, instanceId: 'old-1', saga: 'order', definitionHash: 'h', key: null, correlationId: 'c', input: {}, event: null, deadlineAt: null,
  }]);
  const db = new Database(file);
  t.teardown(() => db.close());
  const insert = db.prepare('INSERT INTO journal (instance_id, seq, type, type_version, at, data) VALUES (?, ?, ?, ?, ?, ?)');
  insert.run('old-1', 2, 'StepSucceeded', 0, 2, JSON.stringify({ type: 'StepSucceeded', at: 2, step: 'reserve', replyId: 'r', result: { ok: 1 } }));

  t.equal(store.history('old-1')[1]?.version, 0, 'history shows the event as stored');
  t.same(store.eventsAfter('old-1', 1), [{ type: 'StepSucceeded', at: 2, step: 'reserve', replyId: 'r', output: { ok: 1 }, pivot: false }]);
  const state = store.rebuild('old-1');
  t.same(state.steps['reserve']?.output, { ok: 1 });
  t.equal(state.version, 2);

  const plain = openStore(file);
  t.teardown(() => plain.close());
  t.throws(() => plain.rebuild('old-1'), { code: StoreErrorCode.UnreadableEvent, message: /no upcaster for journal event StepSucceeded@0/ });

  insert.run('new-1', 1, 'SagaStarted', 2, 1, '{}');
  t.throws(() => store.eventsAfter('new-1', 0), { code: StoreErrorCode.UnreadableEvent, message: /newer/ });
  insert.run('odd-1', 1, 'SomethingElse', 1, 1, '{}');
  t.throws(() => store.eventsAfter('odd-1', 0), { code: StoreErrorCode.UnreadableEvent, message: /unknown/ });
});
