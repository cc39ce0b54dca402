/**
 * Rows handed over while the relay reads the table. The read sees the table as it was when it
 * began (PostgreSQL's snapshot; SQLite's read is synchronous), and with replicas it takes only
 * rows older than the orphan age: a row committed and handed over meanwhile is in neither.
 */
import { join } from 'node:path';
import t from 'tap';
import { OutboxRelay } from '../../engine/runtime/outbox-relay.js';
import { openStore } from '../../engine/store/index.js';
import { msg, recorder, until } from '../helpers/relay.js';

t.test('a row handed over while the table is read is published at once after the read, not left for the orphan scan', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  store.enqueue([msg('old')], Date.now() - 120_000);
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let reading = (): void => {};
  const readBegun = new Promise<void>((resolve) => { reading = resolve; });
  let reads = 0;
  const source = {
    // The rows as the read's snapshot has them, handed back once the test lets it finish.
    claimUnsent: async (n: number, before: number) => {
      const rows = store.unsent(n, before);
      if (++reads === 1) {
        reading();
        await gate;
      }
      return rows;
    },
    unsentBySeq: async (s: readonly number[]) => store.unsentBySeq(s),
    markSent: async (s: readonly number[], at: number) => store.markSent(s, at),
  };
  const rec = recorder();
  // As with replicas: rows younger than a minute are not read from the table, and the table is read again only after 10 minutes idle.
  const relay = new OutboxRelay(source, rec.publish, (err) => t.fail(String(err)), { orphanAfterMs: 60_000, idleScanMs: 600_000 });
  relay.start();
  t.teardown(() => relay.stop());
  await readBegun;
  relay.push(store.enqueue([msg('young-1'), msg('young-2')]));
  release();
  await until(() => rec.published.length === 3, 'the old row and both handed over');
  t.same(rec.published, ['old', 'young-1', 'young-2'], 'the row read first, then those handed over during the read, in order');
});

t.test('a row refused by JetStream is published again at once, before the rows committed after it, though too young for the read', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  // The first publish of `a` is refused (a stream's leader being elected), `b` of another
  // instance in the same batch goes through.
  const rec = recorder((item, attempt) => item.msgId === 'a' && attempt === 1);
  const errors: unknown[] = [];
  const relay = new OutboxRelay({
    claimUnsent: async (n: number, before: number) => store.unsent(n, before),
    unsentBySeq: async (s: readonly number[]) => store.unsentBySeq(s),
    markSent: async (s: readonly number[], at: number) => store.markSent(s, at),
  }, rec.publish, (err) => errors.push(err), { orphanAfterMs: 60_000, idleScanMs: 600_000 });
  relay.start();
  t.teardown(() => relay.stop());
  relay.push(store.enqueue([msg('a'), { ...msg('b'), headers: { 'Saga-Id': 'another' } }]));
  await until(() => errors.length === 1, 'the refusal');
  relay.push(store.enqueue([msg('c')]));
  await until(() => rec.published.length === 3, 'every row');
  t.same(rec.published, ['b', 'a', 'c'], 'the refused row goes out again before the row committed after the refusal');
  await until(() => store.backlog() === 0, 'every row marked sent');
});

t.test("an instance's later commit in a batch goes out once its earlier one is acknowledged, and not at all while that is refused", async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  // A step's command to one stream, refused twice (its stream is being set up again), and in
  // the same batch the compensation its timeout committed, to another stream, which takes it.
  const rec = recorder((item, attempt) => item.msgId === 'do' && attempt <= 2);
  const errors: unknown[] = [];
  const relay = new OutboxRelay({
    claimUnsent: async (n: number, before: number) => store.unsent(n, before),
    unsentBySeq: async (s: readonly number[]) => store.unsentBySeq(s),
    markSent: async (s: readonly number[], at: number) => store.markSent(s, at),
  }, rec.publish, (err) => errors.push(err), { idleScanMs: 600_000 });
  relay.start();
  t.teardown(() => relay.stop());
  // Three commits, handed over in one turn (one batch): the do, another instance's row, then the undo.
  const at = Date.now();
  relay.push(store.enqueue([msg('do')], at));
  relay.push(store.enqueue([{ ...msg('other'), headers: { 'Saga-Id': 'another' } }], at + 1));
  relay.push(store.enqueue([{ ...msg('undo'), subject: 'refund.commands' }], at + 2));
  await until(() => rec.published.length === 3, 'every row');
  t.same(rec.items.map((it) => it.msgId), ['do', 'other', 'do', 'do', 'undo'], 'the undo was not offered to JetStream before the do was acknowledged');
  t.same(rec.published, ['other', 'do', 'undo'], 'the do is stored before the undo');
  t.equal(errors.length, 2, 'each refusal of the do reported');
  await until(() => store.backlog() === 0, 'every row marked sent');
});

t.test("the rows of one commit of an instance (a start, a forEach's fan-out) go out together, in one call", async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const calls: string[][] = [];
  const rec = recorder();
  const relay = new OutboxRelay({
    claimUnsent: async (n: number, before: number) => store.unsent(n, before),
    unsentBySeq: async (s: readonly number[]) => store.unsentBySeq(s),
    markSent: async (s: readonly number[], at: number) => store.markSent(s, at),
  }, async (items) => {
    calls.push(items.map((it) => it.msgId));
    return rec.publish(items);
  }, () => undefined, { idleScanMs: 600_000 });
  relay.start();
  t.teardown(() => relay.stop());
  const fanOut = Array.from({ length: 100 }, (_, i) => msg(`cmd-${i}`));
  relay.push(store.enqueue(fanOut, Date.now()));
  await until(() => rec.published.length === 100, 'every command');
  t.same(calls, [fanOut.map((m) => m.messageId)], 'one call, not one wave per row');
});

t.test('two commits of one instance within one millisecond, handed over by two pushes, are still two: the later waits for the earlier', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder((item, attempt) => item.msgId === 'do' && attempt === 1);
  const relay = new OutboxRelay({
    claimUnsent: async (n: number, before: number) => store.unsent(n, before),
    unsentBySeq: async (s: readonly number[]) => store.unsentBySeq(s),
    markSent: async (s: readonly number[], at: number) => store.markSent(s, at),
  }, rec.publish, () => undefined, { idleScanMs: 600_000 });
  relay.start();
  t.teardown(() => relay.stop());
  // A start and a cancel committed in the same millisecond: one batch, one creation time.
  const at = Date.now();
  relay.push(store.enqueue([msg('do')], at));
  relay.push(store.enqueue([{ ...msg('undo'), subject: 'refund.commands' }], at));
  await until(() => rec.published.length === 2, 'both rows');
  t.same(rec.items.map((it) => it.msgId), ['do', 'do', 'undo'], 'the undo was offered only after the do was acknowledged');
  t.same(rec.published, ['do', 'undo']);
});
