import { join } from 'node:path';
import t from 'tap';
import { start } from '../../engine/core/index.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { feed, persist, reply, saga, startInstance, TestEnv } from './fixtures/saga.js';

/** Everything one input may write, counted. */
function footprint(store: Store) {
  return {
    instances: store.listInstances({ limit: 500 }).items.length, journal: store.history('i-1').length,
    outbox: store.backlog(), timers: store.timerCount(), inboxSeen: store.seen('m-in'), dead: store.deadCount(),
    command: store.lookupCommand('cmd-1') !== undefined, waits: store.waiting('s', 'T', 'c').length,
    definition: store.getDefinitionSource('h') !== undefined,
  };
}

t.test('a transaction that throws leaves nothing behind', async (t) => {
  const store = openStore(join(t.testdir(), 'x.db'));
  t.teardown(() => store.close());
  const env = new TestEnv();
  const before = footprint(store);
  const d = start(saga, { id: 'i-1', input: {}, key: 'k', correlationId: 'c', event: null, causationId: 'm-in' }, env);
  t.throws(() => store.tx(() => {
    persist(store, 0, d);
    store.remember('m-in', 1);
    store.indexCommand('cmd-1', 'i-1', 'reserve', 'do');
    store.addWait('s', 'T', 'i-1', 'w', 'c');
    store.park({ subject: 's', reason: 'r', headers: {}, data: new Uint8Array([1]), deliveryCount: 1, at: 1 });
    store.rememberDefinition('h', 'order', '{}', 1);
    t.equal(store.getInstance('i-1')?.id, 'i-1', 'visible inside the transaction');
    throw new Error('crash before commit');
  }), /crash before commit/);
  t.same(footprint(store), before);
  t.equal(store.journalHead('i-1'), 0);
  t.equal(store.findByKey('order', 'k'), undefined);

  t.equal(store.tx(() => 42), 42, 'tx returns what fn returns');
});

t.test('a nested transaction is a savepoint; foreign keys are checked at commit', async (t) => {
  const store = openStore(join(t.testdir(), 'x.db'));
  t.teardown(() => store.close());
  store.tx(() => {
    store.remember('outer', 1);
    t.throws(() => store.tx(() => {
      store.remember('inner', 1);
      throw new Error('inner fails');
    }));
    store.remember('after', 1);
  });
  t.same(['outer', 'inner', 'after'].map((id) => store.seen(id)), [true, false, true]);

  // A timer lives in its instance's row: written after the instance in one transaction...
  const env = new TestEnv();
  const d = start(saga, { id: 'i-1', input: {}, key: null, correlationId: 'c', event: null, causationId: 'x' }, env);
  store.tx(() => {
    persist(store, 0, d);
    store.putTimer('i-1', 'early', 5, { kind: 'deadline' });
  });
  t.equal(store.dueTimers(5, 10)[0]?.timerId, 'early');
  // ...and a transaction that puts a timer without its instance fails and keeps nothing.
  t.throws(() => store.tx(() => {
    store.remember('orphan', 1);
    store.putTimer('ghost', 'deadline', 5, { kind: 'deadline' });
  }), { code: 'SAGA_ERR_NOT_FOUND' });
  t.notOk(store.seen('orphan'));
  // A rolled-back timer change leaves no trace in the cached instance either.
  t.throws(() => store.tx(() => {
    store.putTimer('i-1', 'late', 7, { kind: 'deadline' });
    throw new Error('undo');
  }));
  t.notOk(store.timersOf('i-1').some((r) => r.timerId === 'late'), 'the rolled-back timer is gone');
});

t.test('after close, a new open of the file sees everything', async (t) => {
  const file = join(t.testdir(), 'x.db');
  const env = new TestEnv();
  const first = openStore(file, { snapshotEvery: 2 });
  let s = startInstance(first, env, 'i-1', { key: 'k-1' });
  s = feed(first, env, s, reply(s, 'reserve', 'Done', env));
  first.remember('m-1', 1);
  const dead = first.park({ subject: 's', reason: 'r', headers: { h: 'v' }, data: new Uint8Array([0, 1, 2]), deliveryCount: 2, at: 3 });
  first.rememberDefinition('hash-1', 'order', '{"name":"order"}', 4);
  const unsent = first.unsent(100);
  const timers = first.dueTimers(Number.MAX_SAFE_INTEGER, 100);
  const history = first.history('i-1');
  first.close();

  const again = openStore(file, { synchronous: 'NORMAL' });
  t.teardown(() => again.close());
  t.strictSame(again.getInstance('i-1'), s);
  t.strictSame(again.findByKey('order', 'k-1'), s);
  t.strictSame(again.rebuild('i-1'), s);
  t.strictSame(again.history('i-1'), history);
  t.same(again.unsent(100), unsent);
  t.same(again.dueTimers(Number.MAX_SAFE_INTEGER, 100), timers);
  t.ok(again.seen('m-1'));
  t.same([...(again.getDead(dead)?.data ?? [])], [0, 1, 2]);
  t.equal(again.getDefinitionSource('hash-1'), '{"name":"order"}');
  t.same(again.lookupCommand(s.steps['charge']?.awaiting ?? ''), { instanceId: 'i-1', step: 'charge', kind: 'do' });
  t.same(again.nonTerminalIds(), ['i-1']);
  // The journal continues where it ended.
  const s2 = feed(again, env, s, reply(s, 'charge', 'Done', env));
  t.equal(again.journalHead('i-1'), s2.version);
});
