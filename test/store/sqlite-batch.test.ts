import { join } from 'node:path';
import t from 'tap';
import { openStore } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { TestEnv } from './fixtures/saga.js';
import { changeOf, committed, startDecision, writeOf } from './contract/writes.js';

/**
 * The SQLite adapter's group commit runs a batch without savepoints while its inputs either
 * succeed or stop before writing (a message id seen before); an input that stops after
 * writing sends the batch round again with a savepoint each. Either way each input is all or
 * nothing, whatever shares its transaction.
 */
t.test('a batch mixing commits, duplicates found first and a duplicate found after a write', async (t) => {
  const file = join(t.testdir(), 'b.db');
  const store = openStore(file);
  const port = sqlitePort(store);
  t.teardown(() => port.close());
  const env = new TestEnv();
  await committed(port, writeOf('m-seen', changeOf(0, startDecision(env, 'i-0'))));

  const outcomes = await Promise.all([
    port.commit(writeOf('m-1', changeOf(0, startDecision(env, 'i-1')))),
    port.commit(writeOf('m-seen', changeOf(0, startDecision(env, 'i-2')))),
    // Its id is new, so it is remembered before the timer turns out gone: that write must be undone.
    port.commit(writeOf('m-3', changeOf(0, startDecision(env, 'i-3')), { instanceId: 'i-0', timerId: 'nope', dueAt: 1 })),
    port.commit(writeOf('m-4', changeOf(0, startDecision(env, 'i-4')))),
  ]);
  t.same(outcomes.map((o) => o.status), ['committed', 'duplicate', 'duplicate', 'committed']);
  t.ok(store.seen('m-1') && store.seen('m-4'), 'the committed inputs are remembered');
  t.notOk(store.seen('m-3'), 'the inbox row of the undone input is gone');
  t.same(['i-1', 'i-2', 'i-3', 'i-4'].map((id) => store.getInstance(id)?.id ?? null), ['i-1', null, null, 'i-4']);
  t.same(['i-1', 'i-2', 'i-3', 'i-4'].map((id) => store.history(id).length > 0), [true, false, false, true], 'journals of the committed inputs only');
  t.equal(store.backlog(), 3, 'the outbox rows of i-0, i-1 and i-4');

  // Read again from the file on a connection of its own, not from the cache the batch went through.
  const reader = openStore(file, { readonly: true });
  t.same(['i-1', 'i-2', 'i-3', 'i-4'].map((id) => reader.getInstance(id)?.id ?? null), ['i-1', null, null, 'i-4']);
  t.same(['m-1', 'm-seen', 'm-3', 'm-4'].map((id) => reader.seen(id)), [true, true, false, true]);
  reader.close();
  // m-3 was not remembered: the same message, its timer aside, commits now.
  await committed(port, writeOf('m-3', changeOf(0, startDecision(env, 'i-3'))));
});

t.test('a batch whose only failures are duplicates found first commits the rest once', async (t) => {
  const store = openStore(join(t.testdir(), 'c.db'));
  const port = sqlitePort(store);
  t.teardown(() => port.close());
  const env = new TestEnv();
  const first = await Promise.all(Array.from({ length: 20 }, (_, i) => port.commit(writeOf(`m-${i}`, changeOf(0, startDecision(env, `i-${i}`))))));
  t.ok(first.every((o) => o.status === 'committed'));
  // The same 20 messages again (a redelivery), among 20 new ones.
  const again = await Promise.all(Array.from({ length: 40 }, (_, i) => port.commit(writeOf(`m-${i}`, changeOf(0, startDecision(env, `j-${i}`))))));
  t.same(again.map((o) => o.status), [...Array<string>(20).fill('duplicate'), ...Array<string>(20).fill('committed')]);
  t.equal(store.backlog(), 40, 'one outbox row per committed start');
  t.same(Array.from({ length: 40 }, (_, i) => store.getInstance(`j-${i}`) !== undefined), [...Array<boolean>(20).fill(false), ...Array<boolean>(20).fill(true)]);
});

t.test('a command indexed by an input undone after it wrote is not found; the batch\'s other input commits', async (t) => {
  const store = openStore(join(t.testdir(), 'd.db'));
  const port = sqlitePort(store);
  t.teardown(() => port.close());
  const env = new TestEnv();
  const s0 = startDecision(env, 'i-0');
  await committed(port, writeOf('m-0', changeOf(0, s0)));
  const ok = startDecision(env, 'i-1');
  const undone = startDecision(env, 'i-2');
  const commandOf = (d: typeof ok) => changeOf(0, d).commands[0]?.commandId ?? '';
  const outcomes = await Promise.all([
    port.commit(writeOf('m-1', changeOf(0, ok))),
    // Two changes in one write: the first indexes i-2's command, the second loses a race (i-0 is
    // at version s0.state.version, not 0), so the whole write is undone.
    port.commit({ messageId: 'm-2', firedTimer: null, changes: [changeOf(0, undone), changeOf(0, startDecision(env, 'i-0'))] }),
  ]);
  t.same(outcomes.map((o) => o.status), ['committed', 'conflict']);
  t.same(await port.replyTarget(commandOf(ok)).then((r) => r?.instanceId), 'i-1', 'the committed input\'s command is found');
  t.equal(await port.replyTarget(commandOf(undone)), undefined, 'the undone input\'s command is not');
  t.equal(store.lookupCommand(commandOf(undone)), undefined);
  t.same(store.lookupCommand(changeOf(0, s0).commands[0]?.commandId ?? ''), { instanceId: 'i-0', step: 'reserve', kind: 'do' },
    'a command committed before is found');
});
