import type { Test } from 'tap';
import type { OutboxRow } from '../../../engine/store/outbox.js';
import type { StorePort } from '../../../engine/store/port.js';
import { changeOf, committed, decision, reply, started, startDecision, TestEnv, writeOf, type PortFactory } from './writes.js';

async function opened(t: Test, f: PortFactory): Promise<StorePort> {
  const port = await (await f.fresh()).open();
  t.teardown(() => port.close());
  return port;
}

/** The rows' seqs, and the seqs each names in `follows`. */
const shape = (rows: readonly OutboxRow[]) => rows.map((r) => ({ seq: r.seq, follows: r.follows ?? [] }));

/** Long enough for the next commit to have a later creation millisecond. */
const nextMillisecond = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 3));

/**
 * Per-instance order of outbox rows (issue 9's known gap): what the relay needs from every
 * adapter to publish an instance's rows in commit order when another replica committed the
 * older ones. With leases (PostgreSQL, replicas) the store names the older unsent rows of the
 * instance (`follows`); a single-process adapter's relay publishes in commit order by itself,
 * so it names none, and its reads never leave an older row of an instance behind a newer one.
 */
export function outboxOrderContract(t: Test, f: PortFactory): void {
  t.test('unsentBySeq: the unsent rows among the seqs, in seq order; sent and unknown ones left out', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    const seqs: number[] = [];
    for (const id of ['i-1', 'i-2', 'i-3']) {
      await started(port, env, id);
    }
    for (const r of await port.claimUnsent(10, Date.now() + 1000, 0)) seqs.push(r.seq);
    t.equal(seqs.length, 3, 'one command each');
    const [a, b, c] = seqs as [number, number, number];
    await port.markSent([b], Date.now());
    const rows = await port.unsentBySeq([c, b, a, c + 1000]);
    t.same(rows.map((r) => r.seq), [a, c], 'unsent ones, in seq order');
    t.same(rows[0]?.headers['Nats-Msg-Id'], rows[0]?.messageId, 'whole rows, to publish under their id');
    t.same(await port.unsentBySeq([]), []);
  });

  t.test('a commit\'s rows follow the unsent rows its instance committed before, and only those', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    const s1 = await started(port, env, 'i-1');
    await started(port, env, 'i-2');
    const unsent = await port.claimUnsent(10, Date.now() + 1000, 0);
    const older = unsent.filter((r) => r.headers['Saga-Id'] === 'i-1').map((r) => r.seq);
    t.equal(older.length, 1, 'i-1 sent its first command');
    const d1 = decision(env, s1, reply(s1, 'reserve', 'Done', env));
    const o1 = await committed(port, writeOf('m-1', changeOf(s1.version, d1)));
    t.ok(o1.outbox.length > 0, 'the next command');
    if (f.leases) {
      t.same(shape(o1.outbox), o1.outbox.map((r, i) => ({ seq: r.seq, follows: i === 0 ? older : [] })),
        'the first new row follows the instance\'s unsent row; another instance\'s row is not named');
    } else {
      t.same(shape(o1.outbox), o1.outbox.map((r) => ({ seq: r.seq, follows: [] })), 'one process: nothing to follow');
    }
    await port.markSent([...older, ...o1.outbox.map((r) => r.seq)], Date.now());
    const d2 = decision(env, d1.state, reply(d1.state, 'charge', 'Done', env));
    const o2 = await committed(port, writeOf('m-2', changeOf(d1.state.version, d2)));
    t.ok(o2.outbox.length > 0);
    t.same(shape(o2.outbox), o2.outbox.map((r) => ({ seq: r.seq, follows: [] })), 'once they are sent, nothing to follow');
  });

  t.test('a reply\'s command, and the rows before it, are not followed: the reply proves them delivered', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    const s = await started(port, env, 'i-1');
    const [c1] = await port.claimUnsent(10, Date.now() + 1000, 0);
    if (c1 === undefined) throw new Error('no row');
    const d1 = decision(env, s, reply(s, 'reserve', 'Done', env));
    const o1 = await committed(port, { ...writeOf('m-1', changeOf(s.version, d1)), answers: [c1.messageId] });
    t.same(shape(o1.outbox), o1.outbox.map((r) => ({ seq: r.seq, follows: [] })), 'answering the only unsent row: nothing to follow');
    const c2 = o1.outbox[0];
    if (c2 === undefined) throw new Error('no row');
    // Neither c1 nor c2 is marked sent: an input proving only c1 delivered still follows c2.
    const d2 = decision(env, d1.state, reply(d1.state, 'charge', 'Done', env));
    const o2 = await committed(port, { ...writeOf('m-2', changeOf(d1.state.version, d2)), answers: [c1.messageId] });
    t.ok(o2.outbox.length > 0);
    if (f.leases) t.same(o2.outbox[0]?.follows, [c2.seq], 'the row after the answered one is followed');
    else t.same(o2.outbox[0]?.follows, undefined, 'one process: nothing to follow');
  });

  t.test('a reply proves the earlier commits of its command delivered, not a row committed with its command', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    // One commit, two rows (as a start writes its lifecycle event and first command): the relay
    // sends them together, and the event's stream can refuse it while the command goes through.
    const d0 = startDecision(env, 'i-1');
    const c0 = changeOf(0, d0);
    const event = { messageId: 'started-i-1', subject: 'sagas.events', headers: { 'Saga-Id': 'i-1', 'Nats-Msg-Id': 'started-i-1' }, data: Buffer.from('{}') };
    const o0 = await committed(port, writeOf('start-i-1', { ...c0, outbox: [event, ...c0.outbox] }));
    const [r1, r2] = o0.outbox;
    if (r1 === undefined || r2 === undefined) throw new Error('two rows expected');
    t.equal(r1.messageId, 'started-i-1', 'the event first');
    await nextMillisecond();
    // The participant answers the command; neither row is marked sent yet.
    const d1 = decision(env, d0.state, reply(d0.state, 'reserve', 'Done', env));
    const o1 = await committed(port, { ...writeOf('m-1', changeOf(d0.state.version, d1)), answers: [r2.messageId] });
    const r3 = o1.outbox[0];
    if (r3 === undefined) throw new Error('no next command');
    if (f.leases) t.same(r3.follows, [r1.seq], 'the event of the answered command\'s commit is still followed');
    else t.same(r3.follows, undefined, 'one process: nothing to follow');
    await nextMillisecond();
    // The next reply answers r3: both rows of the start's commit came before it, and are left out.
    const d2 = decision(env, d1.state, reply(d1.state, 'charge', 'Done', env));
    const o2 = await committed(port, { ...writeOf('m-2', changeOf(d1.state.version, d2)), answers: [r3.messageId] });
    t.ok(o2.outbox.length > 0);
    t.same(shape(o2.outbox), o2.outbox.map((r) => ({ seq: r.seq, follows: [] })), 'rows of earlier commits than the answered one: not followed');
  });

  t.test('parkOutboxRow: an unsent row leaves the outbox as a dead letter in one go, once; a sent one is not parked', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    for (const id of ['i-1', 'i-2', 'i-3']) await started(port, env, id);
    const [a, b, c] = await port.claimUnsent(10, Date.now() + 1000, 0);
    if (a === undefined || b === undefined || c === undefined) throw new Error('three rows expected');
    const letterOf = (r: OutboxRow) => ({ subject: r.subject, reason: 'never published: too large', headers: r.headers, data: r.data, deliveryCount: 1, at: 1234 });
    const id = await port.parkOutboxRow(a.seq, letterOf(a));
    if (id === null) throw new Error('an unsent row is parked');
    t.same((await port.unsentBySeq([a.seq, b.seq, c.seq])).map((r) => r.seq), [b.seq, c.seq], 'out of the outbox');
    t.equal((await port.gauges()).outboxBacklog, 2, 'not in the backlog');
    const letter = await port.getDead(id);
    t.match(letter, { subject: a.subject, reason: 'never published: too large', headers: a.headers, receivedAt: 1234, deliveryCount: 1, redrivenAt: null });
    t.same(Buffer.from(letter?.data ?? []), Buffer.from(a.data), 'the body, byte for byte');
    t.equal(await port.parkOutboxRow(a.seq, letterOf(a)), null, 'gone: not parked again');
    await port.markSent([b.seq], Date.now());
    t.equal(await port.parkOutboxRow(b.seq, letterOf(b)), null, 'sent: not parked');
    const both = await Promise.all([port.parkOutboxRow(c.seq, letterOf(c)), port.parkOutboxRow(c.seq, letterOf(c))]);
    t.equal(both.filter((x) => x !== null).length, 1, 'two parks at once: one letter');
    t.equal((await port.listDead()).items.length, 2, 'a letter for a and one for c');
    t.same(await port.claimUnsent(10, Date.now() + 1000, 0), [], 'nothing left to send');
  });

  t.test('claimUnsent never hands out a row of an instance without its older unsent rows, returned first or named', async (t) => {
    const port = await opened(t, f);
    const env = new TestEnv();
    const s1 = await started(port, env, 'i-1');
    const later = Date.now() + 60_000;
    // Another replica claims i-1's first command (and may die before sending it).
    const taken = await port.claimUnsent(10, later, 60_000);
    t.equal(taken.length, 1);
    const d1 = decision(env, s1, reply(s1, 'reserve', 'Done', env));
    const o1 = await committed(port, writeOf('m-1', changeOf(s1.version, d1)));
    await started(port, env, 'i-2');
    const rows = await port.claimUnsent(10, later, 60_000);
    const first = taken[0]?.seq ?? -1;
    const i1 = rows.filter((r) => r.headers['Saga-Id'] === 'i-1');
    if (f.leases) {
      t.same(shape(i1), o1.outbox.map((r, i) => ({ seq: r.seq, follows: i === 0 ? [first] : [] })), 'the claimed row is named, not handed out');
    } else {
      t.same(i1.map((r) => r.seq), [first, ...o1.outbox.map((r) => r.seq)], 'no claims: every unsent row, in seq order');
    }
    // Adapter-neutral: every older unsent row of a returned row's instance came before it, or is named.
    for (const [k, r] of rows.entries()) {
      const sameInstance = (x: OutboxRow) => x.headers['Saga-Id'] === r.headers['Saga-Id'] && x.seq < r.seq;
      const olderUnsent = new Set([...taken, ...rows].filter(sameInstance).map((x) => x.seq));
      const covered = new Set([...rows.slice(0, k).map((x) => x.seq), ...(r.follows ?? [])]);
      t.ok([...olderUnsent].every((s) => covered.has(s)), `row ${r.seq} of ${r.headers['Saga-Id']} comes with its older rows`, { olderUnsent: [...olderUnsent], covered: [...covered] });
    }
  });
}
