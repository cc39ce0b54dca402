import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { OutboxRelay, type Publisher } from '../../engine/runtime/outbox-relay.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { counted, msg, recorder, until } from '../helpers/relay.js';

t.test('rows in the table at start, then rows handed over by commits: published in order, marked sent', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  store.enqueue([msg('old-1'), msg('old-2')]);
  const rec = recorder();
  const { c, source } = counted(store);
  const relay = new OutboxRelay(source, rec.publish, (err) => t.fail(String(err)));
  relay.start();
  await until(() => rec.published.length === 2, 'the rows already in the table');
  const readsAfterStart = c.reads;

  for (let i = 0; i < 50; i++) relay.push(store.tx(() => store.enqueue([msg(`m-${i}-a`), msg(`m-${i}-b`)])));
  await until(() => rec.published.length === 102, 'the pushed rows');
  t.same(rec.published, ['old-1', 'old-2', ...Array.from({ length: 50 }, (_, i) => [`m-${i}-a`, `m-${i}-b`]).flat()], 'in seq order, each once');
  t.equal(c.reads, readsAfterStart, 'pushed rows are not read back from the table');
  t.same(rec.items[0], { subject: 'a.commands', data: new Uint8Array([1, 2, 3]), headers: { 'Saga-Id': 's' }, msgId: 'old-1' }, 'each row published as it is stored');
  await until(() => store.backlog() === 0, 'the marks');
  await relay.stop();
});

t.test('a refused message is retried from the table, after the ones acknowledged are marked', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const errors: string[] = [];
  const rec = recorder((it, attempt) => it.msgId === 'm-3' && attempt <= 2);
  const relay = new OutboxRelay(sqlitePort(store), rec.publish, (err) => errors.push(String(err)));
  relay.start();
  for (let i = 0; i < 6; i++) relay.push(store.tx(() => store.enqueue([msg(`m-${i}`)])));
  await until(() => rec.published.includes('m-3') && rec.published.length === 6, 'every row, m-3 on its third attempt');
  t.equal(rec.attempts.get('m-3'), 3);
  t.same([...rec.attempts.entries()].filter(([id, n]) => id !== 'm-3' && n !== 1), [], 'no other message was sent twice');
  t.equal(errors.length, 2, 'each refusal reported');
  await relay.stop();
  t.equal(store.backlog(), 0, 'all marked sent once stopped');
});

t.test('stop with a flush while the store cannot answer stops all the same, and leaves the rows for the next start', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  let down = false;
  const source = { ...port, claimUnsent: (...a: Parameters<typeof port.claimUnsent>) => (down ? Promise.reject(new Error('connection terminated')) : port.claimUnsent(...a)) };
  const relay = new OutboxRelay(source, recorder().publish, () => undefined);
  relay.start();
  store.tx(() => store.enqueue([msg('m-1')]));
  down = true;
  // Ten minutes of flushing at most: it must not wait them out, nor throw.
  await relay.stop(600_000);
  t.equal(store.backlog(), 1, 'the unsent row is still in the table');
});

t.test('marks that keep failing are not tried again once the relay stopped, so the process can exit', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  let marks = 0;
  const source = { ...port, markSent: async () => { marks++; throw new Error('database or disk is full'); } };
  const rec = recorder();
  const relay = new OutboxRelay(source, rec.publish, () => undefined);
  relay.start();
  relay.push(store.tx(() => store.enqueue([msg('m-1')])));
  await until(() => rec.published.length === 1 && marks > 0, 'the row published and its mark failing');
  await relay.stop(1_000);
  const after = marks;
  await sleep(500);
  t.equal(marks, after, 'no mark was tried after stop returned');
  t.equal(store.backlog(), 1, 'the row stays unmarked, to be published again after a restart');
});

t.test('stop with a flush publishes what is queued and writes the marks before it returns', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder();
  const relay = new OutboxRelay(sqlitePort(store), rec.publish, (err) => t.fail(String(err)));
  relay.start();
  relay.push(store.tx(() => store.enqueue(Array.from({ length: 600 }, (_, i) => msg(`m-${i}`)))));
  // Ten minutes at most: it returns once everything is published and marked, not at the deadline.
  await relay.stop(600_000);
  t.equal(rec.published.length, 600);
  t.equal(store.backlog(), 0);
});

t.test('past 10,000 queued rows the relay reads the table instead of queueing them', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder();
  const { c, source } = counted(store);
  const relay = new OutboxRelay(source, rec.publish, (err) => t.fail(String(err)));
  relay.start();
  await until(() => c.reads === 1, 'the first (empty) read of the table');
  relay.push(store.tx(() => store.enqueue([msg('small')])));
  await until(() => rec.published.length === 1, 'a commit of one row');
  t.equal(c.reads, 1, 'a small commit is queued, not read back');
  const many = store.tx(() => store.enqueue(Array.from({ length: 10_050 }, (_, i) => msg(`m-${i}`))));
  relay.push(many);
  await until(() => rec.published.length === 10_051, 'all rows of the oversized commit');
  t.same(rec.published.slice(1), many.map((r) => r.messageId), 'in seq order, each once');
  t.ok(c.reads >= 2, `the oversized commit was read from the table (${c.reads} reads)`);
  await relay.stop();
  t.equal(store.backlog(), 0);
});

t.test('a row never handed over is found by the idle read of the table', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder();
  const { c, source } = counted(store);
  const relay = new OutboxRelay(source, rec.publish, (err) => t.fail(String(err)), { idleScanMs: 100 });
  relay.start();
  await until(() => c.reads >= 1, 'the first (empty) read of the table');
  // Written without a push (as no code path does): the idle read of the table finds it.
  store.tx(() => store.enqueue([msg('stray')]));
  await until(() => rec.published.includes('stray'), 'the row nobody handed over');
  await relay.stop();
  t.equal(store.backlog(), 0);
});

/** A recorder that also keeps each publish call's batch, to see what was acknowledged before what. */
function batches() {
  const rec = recorder();
  const calls: string[][] = [];
  const publish: Publisher = async (items) => {
    calls.push(items.map((it) => it.msgId));
    return rec.publish(items);
  };
  return { ...rec, calls, publish };
}

/** The counted store, also counting the reads of rows to publish first. */
function countedAll(store: Store) {
  const { c, source } = counted(store);
  const fetched: number[][] = [];
  return { c, fetched, source: { ...source, unsentBySeq: async (s: readonly number[]) => { fetched.push([...s]); return store.unsentBySeq(s); } } };
}

t.test('a row that follows an older unsent row of its instance it does not hold: that row goes out first, acknowledged in a batch of its own', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = batches();
  const { c, source, fetched } = countedAll(store);
  // No idle read of the table during the test: only the follow can bring the older row out.
  const relay = new OutboxRelay(source, rec.publish, (err) => t.fail(String(err)), { idleScanMs: 600_000 });
  relay.start();
  await until(() => c.reads === 1, 'the first read of the table');
  await sleep(20);
  // Committed by another replica, which died before sending it: never handed to this relay.
  const [theirs] = store.tx(() => store.enqueue([msg('their-do')]));
  if (theirs === undefined) throw new Error('not enqueued');
  const mine = store.tx(() => store.enqueue([msg('my-undo'), msg('my-event')]));
  relay.push(mine.map((r, i) => (i === 0 ? { ...r, follows: [theirs.seq] } : r)));
  await until(() => rec.published.length === 3, 'the older row and the new ones');
  t.same(rec.published, ['their-do', 'my-undo', 'my-event'], 'the older row first, under its own id');
  t.same(rec.calls, [['their-do'], ['my-undo', 'my-event']], 'acknowledged before the new rows were sent');
  t.same(fetched, [[theirs.seq]], 'read from the table by seq, once');
  await until(() => store.backlog() === 0, 'the marks');
  await relay.stop();
});

for (const how of ['read at start', 'adopted as orphans'] as const) {
  t.test(`a claim with a hole in an instance's rows (${how}): 10 and 12 taken here, 11 by another replica, go out as 10, then 11, then 12`, async (t) => {
    const store = openStore(join(t.testdir(), 'r.db'));
    t.teardown(() => store.close());
    const [r10, r11, r12] = store.tx(() => store.enqueue([msg('x-10'), msg('x-11'), msg('x-12')]));
    if (r10 === undefined || r11 === undefined || r12 === undefined) throw new Error('not enqueued');
    const rec = batches();
    const { source, fetched } = countedAll(store);
    // Two replicas claiming at once (SKIP LOCKED): the other one locked 11 between this one's 10
    // and 12, so 12 names 11 as an older row of its instance not in this claim.
    const claims = how === 'read at start' ? [[r10, { ...r12, follows: [r11.seq] }]] : [[], [r10, { ...r12, follows: [r11.seq] }]];
    const holed = { ...source, claimUnsent: async () => claims.shift() ?? [] };
    const opts = how === 'read at start' ? { idleScanMs: 600_000 } : { orphanAfterMs: 1, idleScanMs: 20 };
    const relay = new OutboxRelay(holed, rec.publish, (err) => t.fail(String(err)), opts);
    relay.start();
    await until(() => rec.published.length === 3, 'the three rows');
    await relay.stop();
    t.same(rec.calls, [['x-10'], ['x-11'], ['x-12']], 'in commit order, 11 acknowledged before 12 went out');
    t.same(fetched, [[r11.seq]], '11 read from the table by its seq');
  });
}

t.test('a followed row this relay holds, or one already sent, is not published again', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => { release = r; });
  const rec = batches();
  const slow: Publisher = async (items) => {
    await gate;
    return rec.publish(items);
  };
  const { c, source, fetched } = countedAll(store);
  const relay = new OutboxRelay(source, slow, (err) => t.fail(String(err)), { idleScanMs: 600_000 });
  relay.start();
  await until(() => c.reads === 1, 'the first read of the table');
  const [a] = store.tx(() => store.enqueue([msg('a-do')]));
  if (a === undefined) throw new Error('not enqueued');
  relay.push([a]);
  // Still in flight (the publisher waits) when the next row of the instance follows it.
  const [b] = store.tx(() => store.enqueue([msg('a-undo')]));
  if (b === undefined) throw new Error('not enqueued');
  relay.push([{ ...b, follows: [a.seq] }]);
  release();
  await until(() => rec.published.length === 2, 'both rows');
  await until(() => store.backlog() === 0, 'the marks');
  // Sent and marked: a later row that (from a stale read) follows it does not bring it back.
  const [d] = store.tx(() => store.enqueue([msg('a-event')]));
  if (d === undefined) throw new Error('not enqueued');
  relay.push([{ ...d, follows: [b.seq] }]);
  await until(() => rec.published.length === 3, 'the third row');
  await relay.stop();
  t.same(rec.published, ['a-do', 'a-undo', 'a-event'], 'each once, in order');
  t.same(fetched, [[b.seq]], 'the held row was not read back; the sent one was asked for and found sent');
});

t.test('a failing read of the table is reported, and read again', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  store.enqueue([msg('waiting')]);
  const errors: unknown[] = [];
  let failing = 1;
  const port = sqlitePort(store);
  // The store's own answer, but the first read fails as an unreachable database would.
  const flaky = { ...port, claimUnsent: (n: number, before: number, claimMs: number) => (failing-- > 0 ? Promise.reject(new Error('database unreachable')) : port.claimUnsent(n, before, claimMs)) };
  const rec = recorder();
  const relay = new OutboxRelay(flaky, rec.publish, (err) => errors.push(err));
  relay.start();
  await until(() => rec.published.includes('waiting'), 'the row, read on the second try');
  t.match(errors, [{ message: 'database unreachable' }], 'reported once');
  await relay.stop();
  t.equal(store.backlog(), 0);
});

t.test('marks that fail are reported once, kept, and written when the store takes them again', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  let failing = 3;
  const tries: number[] = [];
  const flaky = { ...port, markSent: (seqs: readonly number[], at: number) => { tries.push(seqs.length); return failing-- > 0 ? Promise.reject(new Error('disk full')) : port.markSent(seqs, at); } };
  const errors: Error[] = [];
  const rec = recorder();
  const relay = new OutboxRelay(flaky, rec.publish, (err) => errors.push(err as Error));
  relay.start();
  relay.push(store.tx(() => store.enqueue([msg('a'), msg('b')])));
  await until(() => tries.length >= 4, 'the marks tried until they are written');
  await until(() => store.backlog() === 0, 'the marks written');
  t.same(errors.map((e) => e.message), ['marking 2 published rows sent failed (tried again every 100 ms, reported once): disk full']);
  t.match(errors[0]?.cause, { message: 'disk full' }, 'with the store\'s error as its cause');
  t.same(tries.slice(0, 4), [2, 2, 2, 2], 'the same two rows each time');
  t.same(rec.published, ['a', 'b'], 'published once: a failed mark sends nothing again');
  // Failing again later is reported again: the one report is per spell of failures.
  failing = 1;
  relay.push(store.tx(() => store.enqueue([msg('c')])));
  await until(() => errors.length === 2, 'the next spell reported');
  t.equal(errors[1]?.message, 'marking 1 published rows sent failed (tried again every 100 ms, reported once): disk full');
  await until(() => store.backlog() === 0, 'the last mark written');
  await relay.stop();
});

t.test('a publisher that throws fails the whole batch; its rows are read back and sent again', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder();
  let throws = 2;
  const errors: unknown[] = [];
  const publish: Publisher = async (items) => {
    if (throws-- === 2) throw new Error('connection closed');
    if (throws === 0) throw 'a string';
    return rec.publish(items);
  };
  const relay = new OutboxRelay(sqlitePort(store), publish, (err) => errors.push(err));
  relay.start();
  relay.push(store.tx(() => store.enqueue([msg('x'), msg('y')])));
  await until(() => rec.published.length === 2, 'both rows on the third try');
  t.same(rec.published, ['x', 'y']);
  t.match(errors, [{ message: 'connection closed' }, { message: 'a string' }], 'each failure reported as an Error');
  t.ok(errors.every((e) => e instanceof Error));
  await relay.stop();
  t.equal(store.backlog(), 0);
});

t.test('with an orphan age, rows another process left unsent are adopted while the queue is in hand', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder();
  const { c, source } = counted(store);
  const calls: number[][] = [];
  const watched = { ...source, claimUnsent: (n: number, before: number, claimMs: number) => { calls.push([n, Date.now() - before, claimMs]); return source.claimUnsent(n, before); } };
  const relay = new OutboxRelay(watched, rec.publish, (err) => t.fail(String(err)), { orphanAfterMs: 50, idleScanMs: 100, claimMs: 777 });
  relay.start();
  await until(() => c.reads >= 1, 'the first read');
  relay.push(store.tx(() => store.enqueue([msg('mine')])));
  await until(() => rec.published.includes('mine'), 'the pushed row');
  // A dead replica's commit: in the table, never pushed to this relay.
  store.tx(() => store.enqueue([msg('orphan')]));
  relay.push(store.tx(() => store.enqueue([msg('mine-2')])));
  await until(() => rec.published.includes('orphan'), 'the orphan');
  t.ok(calls.every(([n, age, claimMs]) => n === 256 && age! >= 50 && claimMs === 777), `each read asks for a batch of 256 rows older than 50 ms, claimed for 777 ms (${JSON.stringify(calls)})`);
  await relay.stop();
  // SQLite claims nothing (one process): an orphan read again before its mark is sent again, which JetStream drops.
  t.same([...new Set(rec.published)].sort(), ['mine', 'mine-2', 'orphan'], 'each published');
  t.equal(store.backlog(), 0);
});

t.test('started twice, it runs one loop: each row is published once', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  store.enqueue(Array.from({ length: 20 }, (_, i) => msg(`m-${i}`)));
  const rec = recorder();
  const relay = new OutboxRelay(sqlitePort(store), rec.publish, (err) => t.fail(String(err)));
  relay.start();
  relay.start();
  await until(() => store.backlog() === 0, 'every row marked');
  await relay.stop();
  t.equal(rec.published.length, 20);
  t.equal(new Set(rec.published).size, 20);
});

t.test('stop with a flush gives up at once while publishing fails, and writes the marks it has', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder((it) => it.msgId === 'refused');
  const errors: unknown[] = [];
  const relay = new OutboxRelay(sqlitePort(store), rec.publish, (err) => errors.push(err));
  relay.start();
  relay.push(store.tx(() => store.enqueue([msg('ok'), msg('refused')])));
  await until(() => errors.length >= 1, 'the refusal');
  // A flush of a minute would wait for the refused row; it does not wait while publishing fails.
  await relay.stop(60_000);
  t.same(rec.published, ['ok']);
  t.same(store.unsent(10).map((r) => r.messageId), ['refused'], 'the acknowledged row is marked, the refused one is not');
});

t.test('stop wakes a relay that waits for work: it does not sleep out its idle read', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder();
  const { c, source } = counted(store);
  // Idle reads ten minutes apart: a stop that waited for the next one would outlast the test.
  const relay = new OutboxRelay(source, rec.publish, (err) => t.fail(String(err)), { idleScanMs: 600_000 });
  relay.start();
  await until(() => c.reads >= 1, 'the first read');
  await relay.stop();
  t.pass('stopped');
});

t.test('after publishing recovers, a flush on stop publishes again what is queued', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder((it, attempt) => it.msgId === 'first' && attempt === 1);
  const errors: unknown[] = [];
  const relay = new OutboxRelay(sqlitePort(store), rec.publish, (err) => errors.push(err));
  relay.start();
  relay.push(store.tx(() => store.enqueue([msg('first')])));
  await until(() => rec.published.includes('first'), 'the first row, on its second try');
  // Failures were counted; the success after them clears the count, so the flush runs.
  relay.push(store.tx(() => store.enqueue(Array.from({ length: 300 }, (_, i) => msg(`later-${i}`)))));
  await relay.stop(600_000);
  t.equal(rec.published.length, 301, 'everything queued was published before stop returned');
  t.equal(store.backlog(), 0);
  t.equal(errors.length, 1);
});

t.test('a failing read for orphans is reported, and the relay goes on', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  let reads = 0;
  // The first read (the start's scan) works; the orphan read after it fails once.
  const flaky = { ...port, claimUnsent: (n: number, before: number, claimMs: number) => (++reads === 2 ? Promise.reject(new Error('orphans unreadable')) : port.claimUnsent(n, before, claimMs)) };
  const errors: Error[] = [];
  const rec = recorder();
  const relay = new OutboxRelay(flaky, rec.publish, (err) => errors.push(err as Error), { orphanAfterMs: 10, idleScanMs: 50 });
  relay.start();
  await until(() => errors.length === 1, 'the failed orphan read');
  t.equal(errors[0]?.message, 'orphans unreadable');
  relay.push(store.tx(() => store.enqueue([msg('after')])));
  await until(() => rec.published.includes('after'), 'a row after it');
  await relay.stop();
});

t.test('rows in the table at start are read at once, not at the first idle read', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  store.enqueue([msg('before-start')]);
  const rec = recorder();
  const relay = new OutboxRelay(sqlitePort(store), rec.publish, (err) => t.fail(String(err)), { idleScanMs: 600_000 });
  relay.start();
  await until(() => rec.published.includes('before-start'), 'the row committed before the start');
  // A flush with nothing left returns at once (the deadline is ten minutes away).
  await relay.stop(600_000);
  t.equal(store.backlog(), 0);
});

t.test('stop while a batch is being published waits for it, then stops', async (t) => {
  const store = openStore(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const rec = recorder();
  let release: () => void = () => undefined;
  let inFlight = false;
  const held = new Promise<void>((r) => { release = r; });
  const publish: Publisher = async (items) => { inFlight = true; await held; return rec.publish(items); };
  const relay = new OutboxRelay(sqlitePort(store), publish, (err) => t.fail(String(err)), { idleScanMs: 600_000 });
  relay.start();
  relay.push(store.tx(() => store.enqueue([msg('in-flight')])));
  await until(() => inFlight, 'the batch in flight');
  const stopped = relay.stop();
  release();
  await stopped;
  t.same(rec.published, ['in-flight']);
  t.equal(store.backlog(), 0, 'its mark written before stop returned');
});
