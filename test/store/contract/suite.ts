import type { Test } from 'tap';
import type { StorePort } from '../../../engine/store/port.js';
import {
  changeOf, committed, decision, reply, started, startDecision, TestEnv, writeOf, type Place, type PortFactory,
} from './writes.js';

type T = Test;

async function opened(t: T, f: PortFactory, opts?: { snapshotEvery?: number }): Promise<{ port: StorePort; place: Place }> {
  const place = await f.fresh();
  const port = await place.open(opts);
  t.teardown(() => port.close());
  return { port, place };
}

/** Everything one input may leave behind, counted, to show that a refused write left nothing. */
async function footprint(port: StorePort, id: string) {
  const g = await port.gauges();
  return {
    journal: (await port.history(id)).length, version: (await port.getInstance(id))?.version ?? 0,
    backlog: g.outboxBacklog, timers: g.timersPending, instances: g.instances.reduce((n, r) => n + r.count, 0),
  };
}

/**
 * The store port's contract, run against every adapter: what the runtime, the API and
 * `sagactl --db` may rely on whichever database sits behind it.
 */
export function contract(t: T, f: PortFactory): void {
  t.test('a new instance commits with its journal, projection, outbox, timer and command', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    const d = startDecision(env, 'i-1', { key: 'k-1', correlationId: 'corr-1' });
    const change = changeOf(0, d);
    const o = await committed(port, writeOf('start-i-1', change));
    t.equal(o.outbox.length, 1, 'the command to publish');
    t.equal(o.outbox[0]?.messageId, change.outbox[0]?.messageId);
    t.ok(Number.isSafeInteger(o.outbox[0]?.seq), 'a seq to mark it sent by');
    t.same(Buffer.from(o.outbox[0]?.data ?? []), Buffer.from(change.outbox[0]?.data ?? []));
    t.same(await port.getInstance('i-1'), d.state);
    t.same(await port.findByKey('order', 'k-1'), d.state);
    t.equal(await port.findByKey('order', 'k-2'), undefined);
    t.equal(await port.findByKey('other', 'k-1'), undefined);
    const both = await Promise.all([port.findByKey('order', 'k-1'), port.findByKey('order', 'k-1'), port.getInstance('i-1'), port.getInstance('i-1')]);
    t.same(both, [d.state, d.state, d.state, d.state], 'the same read asked twice at once');
    t.equal(await port.getInstance('nope'), undefined);
    const h = await port.history('i-1');
    t.same(h.map((e) => [e.seq, e.type]), d.events.map((e, i) => [i + 1, e.type]));
    t.same(h[0]?.data, d.events[0]);
    t.same((await port.history('i-1', 1)).map((e) => e.seq), h.slice(1).map((e) => e.seq), 'after seq 1: the rest');
    t.same(await port.history('i-1', h.length), [], 'after the last: none');
    t.same((await port.timersOf('i-1')).map((r) => r.timerId), [...change.timers.put].sort((a, b) => a.dueAt - b.dueAt).map((p) => p.timerId),
      'earliest first');
    const target = await port.replyTarget(change.commands[0]?.commandId ?? '');
    t.same(target, { instanceId: 'i-1', step: 'reserve', kind: 'do', state: d.state });
    t.equal(await port.replyTarget('unknown'), undefined);
    t.same(await port.history('nope'), []);
  });

  t.test('a message id seen before makes the write a duplicate that writes nothing', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    const s = await started(port, env, 'i-1');
    const d = decision(env, s, reply(s, 'reserve', 'Done', env));
    const before = await footprint(port, 'i-1');
    t.same(await port.commit(writeOf('start-i-1', changeOf(s.version, d))), { status: 'duplicate' });
    t.same(await footprint(port, 'i-1'), before);
    await committed(port, writeOf('m-2', changeOf(s.version, d)));
    t.same(await port.commit(writeOf('m-2', changeOf(s.version, d))), { status: 'duplicate' }, 'also after a commit');
  });

  t.test('a stale version is a conflict that leaves no inbox id, journal, outbox or timer behind', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    const s = await started(port, env, 'i-1');
    const first = decision(env, s, reply(s, 'reserve', 'Done', env));
    await committed(port, writeOf('m-1', changeOf(s.version, first)));
    const before = await footprint(port, 'i-1');
    const stale = decision(env, s, reply(s, 'reserve', 'Nope', env));
    t.same(await port.commit(writeOf('m-2', changeOf(s.version, stale))), { status: 'conflict', instanceId: 'i-1' });
    t.same(await footprint(port, 'i-1'), before);
    t.same(await port.getInstance('i-1'), first.state);
    // The refused write did not record m-2: decided again on the fresh state, it commits.
    const again = decision(env, first.state, reply(first.state, 'charge', 'Done', env));
    await committed(port, writeOf('m-2', changeOf(first.state.version, again)));
    t.equal((await port.getInstance('i-1'))?.version, again.state.version);
  });

  t.test('a stale version of an instance named d is a conflict, not a duplicate', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    const s = await started(port, env, 'd');
    const first = decision(env, s, reply(s, 'reserve', 'Done', env));
    await committed(port, writeOf('m-1', changeOf(s.version, first)));
    const stale = decision(env, s, reply(s, 'reserve', 'Nope', env));
    t.same(await port.commit(writeOf('m-2', changeOf(s.version, stale))), { status: 'conflict', instanceId: 'd' }, 'decided again by the engine, not acked');
    const again = decision(env, first.state, reply(first.state, 'charge', 'Done', env));
    await committed(port, writeOf('m-2', changeOf(first.state.version, again)));
    t.equal((await port.getInstance('d'))?.version, again.state.version, 'the message was not remembered as processed');
  });

  t.test('a new instance whose id or saga key exists is a conflict', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    await started(port, env, 'i-1', { key: 'k' });
    const sameId = startDecision(env, 'i-1', { key: 'other' });
    t.same(await port.commit(writeOf('m-a', changeOf(0, sameId))), { status: 'conflict', instanceId: 'i-1' });
    const sameKey = startDecision(env, 'i-2', { key: 'k' });
    t.same(await port.commit(writeOf('m-b', changeOf(0, sameKey))), { status: 'conflict', instanceId: 'i-2' });
    t.equal(await port.getInstance('i-2'), undefined);
    t.same(await port.history('i-2'), []);
    t.equal((await port.gauges()).outboxBacklog, 1, 'only the first start published');
    const noKey = startDecision(env, 'i-3');
    await committed(port, writeOf('m-a', changeOf(0, noKey)));
  });

  t.test('concurrent commits each get their own outcome', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    const ds = Array.from({ length: 40 }, (_, i) => startDecision(env, `i-${i}`, { key: `k-${i % 30}` }));
    const outcomes = await Promise.all(ds.map((d, i) => port.commit(writeOf(`m-${i % 35}`, changeOf(0, d)))));
    const status = outcomes.map((o) => o.status);
    t.same(status.slice(0, 30), Array<string>(30).fill('committed'));
    t.same(status.slice(30, 35), Array<string>(5).fill('conflict'), 'keys 0..4 taken');
    t.same(status.slice(35), Array<string>(5).fill('duplicate'), 'message ids m-0..m-4 seen');
    await port.settled();
    t.equal((await port.listInstances({ limit: 500 })).items.length, 30);
  });

  t.test('writes of one instance queued together apply in order', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    const s = await started(port, env, 'i-1');
    const d1 = decision(env, s, reply(s, 'reserve', 'Done', env));
    const d2 = decision(env, d1.state, reply(d1.state, 'charge', 'Done', env));
    const stale = decision(env, s, reply(s, 'reserve', 'Nope', env));
    const outcomes = await Promise.all([
      port.commit(writeOf('m-1', changeOf(s.version, d1))),
      port.commit(writeOf('m-2', changeOf(d1.state.version, d2))),
      port.commit(writeOf('m-3', changeOf(s.version, stale))),
    ]);
    t.same(outcomes.map((o) => o.status), ['committed', 'committed', 'conflict']);
    t.same(await port.getInstance('i-1'), d2.state);
    t.equal((await port.history('i-1')).length, d2.state.version);
  });

  t.test('waits: the instances waiting on a subject and type for a correlation id or any, oldest first', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    // i-b and i-c wait for their own correlation id (c-i-b, c-i-c), i-a for any (its `match` decides).
    for (const [id, correlationId] of [['i-b', 'c-i-b'], ['i-a', null], ['i-c', 'c-i-c']] as const) {
      await committed(port, writeOf(`m-${id}`, changeOf(0, startDecision(env, id), { put: [{ step: 'w', subject: 's', type: 'T', correlationId }], remove: [] })));
    }
    t.same(await port.waiting('s', 'T', 'c-i-b'), [{ instanceId: 'i-b', step: 'w' }, { instanceId: 'i-a', step: 'w' }]);
    t.same(await port.waiting('s', 'T', 'c-i-c'), [{ instanceId: 'i-a', step: 'w' }, { instanceId: 'i-c', step: 'w' }]);
    t.same(await port.waiting('s', 'T', 'c-other'), [{ instanceId: 'i-a', step: 'w' }], 'another correlation id: the wait of any alone');
    // Asked together (PostgreSQL answers the askers of one turn with one query): each gets its own.
    const [b, c, u] = await Promise.all([port.waiting('s', 'T', 'c-i-b'), port.waiting('s', 'T', 'c-i-c'), port.waiting('s', 'U', 'c-i-b')]);
    t.same([b, c, u], [[{ instanceId: 'i-b', step: 'w' }, { instanceId: 'i-a', step: 'w' }], [{ instanceId: 'i-a', step: 'w' }, { instanceId: 'i-c', step: 'w' }], []]);
    t.same(await port.waiting('s', 'U', 'c-i-b'), []);
    const s = await port.getInstance('i-b');
    if (s === undefined) throw new Error('no i-b');
    const d = decision(env, s, reply(s, 'reserve', 'Done', env));
    await committed(port, writeOf('m-x', changeOf(s.version, d, { put: [], remove: ['w'] })));
    t.same(await port.waiting('s', 'T', 'c-i-b'), [{ instanceId: 'i-a', step: 'w' }]);
  });

  t.test('timers: due ones claimed (once until the claim runs out, with leases); firing consumes them; a moved or fired timer is a duplicate', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    t.equal(await port.nextDueAt(), null);
    const s = await started(port, env, 'i-1');
    const [timer] = await port.timersOf('i-1');
    if (timer === undefined) throw new Error('no timer');
    t.equal(timer.timerId, 'attempt_timeout:reserve:1');
    t.same(timer.data, { kind: 'attempt_timeout', step: 'reserve', attempt: 1 });
    t.equal(await port.nextDueAt(), timer.dueAt);
    t.same(await port.claimDueTimers(timer.dueAt - 1, 10, 1000), [], 'not due yet');
    t.same(await port.claimDueTimers(timer.dueAt, 10, 1000), [timer]);
    if (f.leases) {
      t.same(await port.claimDueTimers(timer.dueAt + 999, 10, 1000), [], 'claimed');
      t.same(await port.claimDueTimers(timer.dueAt + 1000, 10, 1000), [timer], 'the claim ran out');
    }

    env.now = timer.dueAt;
    const d = decision(env, s, { type: 'TimerFired', timer: timer.data });
    const fired = { instanceId: 'i-1', timerId: timer.timerId, dueAt: timer.dueAt };
    const moved = writeOf(null, changeOf(s.version, d), { ...fired, dueAt: timer.dueAt + 1 });
    t.same(await port.commit(moved), { status: 'duplicate' }, 'not at that due time');
    await committed(port, writeOf(null, changeOf(s.version, d), fired));
    t.notOk((await port.timersOf('i-1')).some((r) => r.timerId === timer.timerId), 'consumed');
    const s2 = await port.getInstance('i-1');
    if (s2 === undefined) throw new Error('no i-1');
    const d2 = decision(env, s2, { type: 'TimerFired', timer: timer.data });
    t.same(await port.commit(writeOf(null, changeOf(s2.version, d2), fired)), { status: 'duplicate' }, 'fired before');
    t.equal((await port.getInstance('i-1'))?.version, s2.version);
  });

  t.test('timers: earliest first, at most limit; a conflicting write keeps the timer it fired', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    const states = [];
    for (let i = 0; i < 3; i++) {
      env.now += 10;
      states.push(await started(port, env, `i-${i}`));
    }
    const due = await port.claimDueTimers(env.now + 1e9, 2, 1000);
    t.same(due.map((r) => r.instanceId), ['i-0', 'i-1']);
    const s = states[0];
    if (s === undefined) throw new Error('missing');
    // A reply gets there first; a deadline fired on the version before it is refused.
    const replied = decision(env, s, reply(s, 'reserve', 'Busy', env));
    await committed(port, writeOf('m-r', changeOf(s.version, replied)));
    const timer = (await port.timersOf(s.id)).find((r) => r.timerId === 'deadline');
    if (timer === undefined) throw new Error('no deadline');
    env.now = timer.dueAt;
    const d = decision(env, s, { type: 'TimerFired', timer: timer.data });
    const fired = { instanceId: s.id, timerId: timer.timerId, dueAt: timer.dueAt };
    t.same(await port.commit(writeOf(null, changeOf(s.version, d), fired)), { status: 'conflict', instanceId: s.id });
    t.ok((await port.timersOf(s.id)).some((r) => r.timerId === 'deadline'), 'the deadline is still there');
  });

  t.test('outbox: unsent rows claimed in seq order (not again while claimed, with leases), never once sent; sent rows pruned', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    const seqs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const d = startDecision(env, `i-${i}`);
      seqs.push(...(await committed(port, writeOf(`m-${i}`, changeOf(0, d)))).outbox.map((r) => r.seq));
    }
    t.ok(seqs[0] !== undefined && seqs[1] !== undefined && seqs[0] < seqs[1], 'seq grows');
    t.same(await port.claimUnsent(10, 0, 60_000), [], 'created before 1970: none');
    const now = Date.now() + 1000;
    const first = await port.claimUnsent(2, now, 60_000);
    t.same(first.map((r) => r.seq), seqs.slice(0, 2));
    t.same(first[0]?.headers['Nats-Msg-Id'], first[0]?.messageId);
    const rest = await port.claimUnsent(10, now, 300);
    if (f.leases) t.same(rest.map((r) => r.seq), seqs.slice(2), 'the claimed ones are not handed out again');
    else t.same(rest.map((r) => r.seq), seqs, 'without leases every unsent row');
    const sentAt = Date.now();
    await port.markSent(seqs.slice(0, 2), sentAt);
    await port.markSent(seqs.slice(0, 1), sentAt + 10);
    t.equal((await port.gauges()).outboxBacklog, 1);
    // The 300 ms claim runs out; the sent rows, claimed for a minute, would not come back anyway.
    const deadline = Date.now() + 10_000;
    let again: number[] = [];
    while (again.length === 0 && Date.now() < deadline) again = (await port.claimUnsent(10, now, 300)).map((r) => r.seq);
    t.same(again, seqs.slice(2), 'an expired claim is taken again; sent rows never');
    if (f.deletesSent === true) {
      t.equal(await port.pruneSent(1e15), 0, 'the sent rows went when marked: nothing left to prune');
    } else {
      t.equal(await port.pruneSent(sentAt), 0, 'sent at sentAt, not before');
      t.equal(await port.pruneSent(sentAt + 1), 2, 'both sent at sentAt (the second mark kept the first time)');
      t.equal(await port.pruneSent(1e15), 0);
    }
    t.equal((await port.gauges()).outboxBacklog, 1, 'the unsent row stays');
  });

  t.test('a message id already in the outbox is not added twice', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    const d = startDecision(env, 'i-1');
    const change = changeOf(0, d);
    const o = await committed(port, writeOf('m-1', { ...change, outbox: [...change.outbox, ...change.outbox] }));
    t.equal(o.outbox.length, 1);
  });

  t.test('dead letters: parked byte for byte, paged newest first, redriven, deleted', async (t) => {
    const { port } = await opened(t, f);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = await port.park({ subject: `s.${i}`, reason: 'bad', headers: { h: String(i) }, data: new Uint8Array([0, i, 255]), deliveryCount: i + 1, at: 100 + i });
      if (id === null) throw new Error('a park without a delivery id always stores');
      ids.push(id);
    }
    const once = { subject: 's.once', reason: 'bad', headers: {}, data: new Uint8Array([1]), deliveryCount: 1, at: 200 };
    const first = await port.park(once, 'delivery-1');
    t.ok(first !== null, 'a delivery is parked once');
    t.equal(await port.park(once, 'delivery-1'), null, 'its redelivery stores nothing');
    t.ok(await port.deleteDead(first ?? ''), 'and the one letter is there');
    const p1 = await port.listDead({ limit: 2 });
    t.same(p1.items.map((l) => l.id), [ids[4], ids[3]]);
    t.ok(p1.nextCursor);
    const p2 = await port.listDead({ limit: 2, cursor: p1.nextCursor });
    const p3 = await port.listDead({ limit: 2, cursor: p2.nextCursor });
    t.same([...p2.items, ...p3.items].map((l) => l.id), [ids[2], ids[1], ids[0]]);
    t.equal(p3.nextCursor, null);
    const one = await port.getDead(ids[1] ?? '');
    t.same(one && { ...one, data: Buffer.from(one.data) }, {
      id: ids[1], subject: 's.1', reason: 'bad', headers: { h: '1' }, data: Buffer.from([0, 1, 255]), receivedAt: 101, deliveryCount: 2, redrivenAt: null, redrivenBy: null,
    });
    t.equal(await port.getDead('x'), undefined);
    t.equal(await port.getDead('999999'), undefined);
    t.ok(await port.markRedriven(ids[1] ?? '', 500));
    t.equal((await port.getDead(ids[1] ?? ''))?.redrivenAt, 500);
    t.notOk(await port.markRedriven('999999', 500));
    t.equal((await port.gauges()).deadLetters, 4);
    t.ok(await port.deleteDead(ids[0] ?? ''));
    t.notOk(await port.deleteDead(ids[0] ?? ''));
    await t.rejects(port.listDead({ cursor: 'garbage' }), { code: 'SAGA_ERR_BAD_CURSOR' });
  });

  t.test('definitions: the first source of a hash is kept; hashes in use are those of open instances', async (t) => {
    const { port } = await opened(t, f);
    await port.rememberDefinition('h1', 'order', 'v1', 10);
    await port.rememberDefinition('h1', 'order', 'changed', 20);
    await port.rememberDefinition('h0', 'other', 'v0', 15);
    t.equal(await port.getDefinitionSource('h1'), 'v1');
    t.equal(await port.getDefinitionSource('nope'), undefined);
    t.same(await port.listDefinitions(), [{ hash: 'h1', name: 'order', firstSeenAt: 10 }, { hash: 'h0', name: 'other', firstSeenAt: 15 }]);
    t.same(await port.hashesInUse(), []);
    await started(port, new TestEnv(), 'i-1');
    t.same(await port.hashesInUse(), ['hash-1']);
  });

  t.test('list: newest first, filters, stable paging while instances are added', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    for (let i = 0; i < 7; i++) {
      env.now += 1000;
      await started(port, env, `i-${i}`, { key: i % 2 === 0 ? `k-${i}` : null, correlationId: i < 3 ? 'early' : 'late' });
    }
    const all = await port.listInstances({});
    t.same(all.items.map((r) => r.id), ['i-6', 'i-5', 'i-4', 'i-3', 'i-2', 'i-1', 'i-0']);
    t.equal(all.nextCursor, null);
    t.same(all.items[0] && { ...all.items[0] }, {
      id: 'i-6', saga: 'order', definitionHash: 'hash-1', key: 'k-6', correlationId: 'late', status: 'running',
      createdAt: all.items[0]?.createdAt, updatedAt: all.items[0]?.updatedAt, version: 2,
    });
    const p1 = await port.listInstances({ limit: 3 });
    env.now += 1000;
    await started(port, env, 'i-new');
    const p2 = await port.listInstances({ limit: 3, cursor: p1.nextCursor });
    const p3 = await port.listInstances({ limit: 3, cursor: p2.nextCursor });
    t.same([...p1.items, ...p2.items, ...p3.items].map((r) => r.id), ['i-6', 'i-5', 'i-4', 'i-3', 'i-2', 'i-1', 'i-0']);
    t.same((await port.listInstances({ key: 'k-4' })).items.map((r) => r.id), ['i-4']);
    t.same((await port.listInstances({ correlationId: 'early' })).items.map((r) => r.id), ['i-2', 'i-1', 'i-0']);
    t.same((await port.listInstances({ saga: 'order', status: 'running', limit: 2 })).items.map((r) => r.id), ['i-new', 'i-6']);
    t.same((await port.listInstances({ status: 'completed' })).items, []);
    t.same((await port.listInstances({ saga: 'other' })).items, []);
    const since = (await port.getInstance('i-5'))?.createdAt;
    t.same((await port.listInstances({ since })).items.map((r) => r.id), ['i-new', 'i-6', 'i-5']);
    const until = (await port.getInstance('i-1'))?.createdAt;
    t.same((await port.listInstances({ until })).items.map((r) => r.id), ['i-1', 'i-0'], 'until: created at or before');
    t.same((await port.listInstances({ since: until, until: since })).items.map((r) => r.id), ['i-5', 'i-4', 'i-3', 'i-2', 'i-1'], 'a time range');
    await t.rejects(port.listInstances({ cursor: 'nope' }), { code: 'SAGA_ERR_BAD_CURSOR' });
  });

  t.test('rebuild: the journal alone gives the projected state, from a snapshot or from scratch', async (t) => {
    const { port } = await opened(t, f, { snapshotEvery: 3 });
    const env = new TestEnv();
    let s = await started(port, env, 'i-1');
    for (const step of ['reserve', 'charge', 'ship']) {
      const d = decision(env, s, reply(s, step, 'Done', env));
      await committed(port, writeOf(`m-${step}`, changeOf(s.version, d)));
      s = d.state;
    }
    t.equal(s.status, 'completed');
    t.same(await port.getInstance('i-1'), s);
    t.same(await port.rebuild('i-1'), s);
    t.same(await port.rebuild('i-1', { fromScratch: true }), s);
    t.same(await port.hashesInUse(), [], 'a completed instance pins no definition');
    await t.rejects(port.rebuild('nope'), { code: 'SAGA_ERR_NOT_FOUND' });
  });

  t.test('gauges count instances by saga and status, timers, backlog and dead letters', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    t.same(await port.gauges(), { instances: [], timersPending: 0, outboxBacklog: 0, outboxOldestAt: null, deadLetters: 0 });
    const before = Date.now();
    await started(port, env, 'i-1');
    await started(port, env, 'i-2');
    await port.park({ subject: 's', reason: 'r', headers: {}, data: new Uint8Array(), deliveryCount: 1, at: 1 });
    const g = await port.gauges();
    t.same({ ...g, outboxOldestAt: null }, { instances: [{ saga: 'order', status: 'running', count: 2 }], timersPending: 4, outboxBacklog: 2, outboxOldestAt: null, deadLetters: 1 },
      'an attempt timeout and a deadline each');
    t.ok(g.outboxOldestAt !== null && g.outboxOldestAt >= before && g.outboxOldestAt <= Date.now(), `the oldest unsent row was committed by this test (${String(g.outboxOldestAt)})`);
    const unsent = await port.claimUnsent(10, Date.now(), 1000);
    await port.markSent(unsent.map((r) => r.seq), Date.now());
    t.equal((await port.gauges()).outboxOldestAt, null, 'nothing unsent: no oldest row');
  });

  t.test('pruneInbox forgets old message ids', async (t) => {
    const { port } = await opened(t, f);
    const env = new TestEnv();
    await started(port, env, 'i-1');
    t.equal(await port.pruneInbox(0), 0);
    t.equal(await port.pruneInbox(Date.now() + 60_000), 1);
    // Forgotten: the same start message is no longer a duplicate, but the instance exists.
    t.same(await port.commit(writeOf('start-i-1', changeOf(0, startDecision(env, 'i-1')))), { status: 'conflict', instanceId: 'i-1' });
  });

  t.test('a read-only open reads everything and writes nothing', async (t) => {
    const { port, place } = await opened(t, f);
    const env = new TestEnv();
    const s = await started(port, env, 'i-1');
    await port.close();
    const ro = await place.open({ readonly: true });
    t.teardown(() => ro.close());
    t.equal(ro.readonly, true);
    t.same(await ro.getInstance('i-1'), s);
    t.equal((await ro.listInstances()).items.length, 1);
    const d = decision(env, s, reply(s, 'reserve', 'Done', env));
    await t.rejects(ro.commit(writeOf('m-2', changeOf(s.version, d))), { code: 'SAGA_ERR_READ_ONLY' });
    await t.rejects(ro.park({ subject: 's', reason: 'r', headers: {}, data: new Uint8Array(), deliveryCount: 1, at: 1 }), { code: 'SAGA_ERR_READ_ONLY' });
    await t.rejects(ro.markSent([1], 1), { code: 'SAGA_ERR_READ_ONLY' });
    t.equal((await ro.getInstance('i-1'))?.version, s.version);
  });

  t.test('settled waits for queued commits; close ends the store', async (t) => {
    const place = await f.fresh();
    const port = await place.open();
    const env = new TestEnv();
    const pending = Array.from({ length: 20 }, (_, i) => port.commit(writeOf(`m-${i}`, changeOf(0, startDecision(env, `i-${i}`)))));
    let done = 0;
    for (const p of pending) void p.then(() => { done += 1; });
    await port.settled();
    await Promise.resolve();
    t.equal(done, 20);
    await port.close();
    const again = await place.open();
    t.equal((await again.listInstances({ limit: 100 })).items.length, 20, 'durable');
    await again.close();
  });
}
