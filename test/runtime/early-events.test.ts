import t from 'tap';
import { parseEnvelope } from '../../engine/transport/envelope.js';
import type { Store } from '../../engine/store/index.js';
import { rig } from './engine-rig.js';

/**
 * An event that arrives before the wait step awaiting it has started is kept for its instance
 * (found by correlation id) and delivered when the wait starts, instead of being taken as
 * processed and lost (issue 12). The engine runs on a real SQLite file; messages go through
 * the inbound handler as the consumers hand them over.
 */
const yaml = `
version: 1
sagas:
  - name: approval
    start: { key: "{% $input.orderId %}" }
    defaults: { timeout: 1s, retry: { maxAttempts: 2, initialInterval: 100ms } }
    schemas:
      OrderApproved@1: { type: object, required: [approver], properties: { approver: { type: string, minLength: 1 } } }
    steps:
      - name: reserve
        command: { subject: inventory.commands, type: Reserve, payload: { orderId: "{% $input.orderId %}" } }
        reply: { subject: inventory.events, success: [Reserved] }
        compensate:
          command: { subject: inventory.commands, type: Release }
          reply: { subject: inventory.events, success: [Released] }
      - name: await-approval
        wait: { subject: orders.approvals, type: OrderApproved }
        timeout: 1h
      - name: ship
        pivot: true
        command: { subject: shipping.commands, type: Ship, payload: { approver: "{% $steps.\`await-approval\`.approver %}" } }
        reply: { subject: shipping.events, success: [Shipped] }
        retry: { maxAttempts: unlimited, initialInterval: 100ms }
`;

/** The id of the latest command sent on `subject`, from the outbox. */
function commandId(store: Store, subject: string): string {
  const row = store.unsent(1000).filter((r) => r.subject === subject).at(-1);
  const env = row === undefined ? null : parseEnvelope(row.data);
  if (env === null || !env.ok) throw new Error(`no command on ${subject}`);
  return env.envelope.eventId;
}

t.test('an approval that comes before the wait started is delivered when it starts', async (t) => {
  const { store, engine, deliver } = rig(t, yaml);
  const { state } = await engine.start({ saga: 'approval', input: { orderId: 'o-1' }, correlationId: 'c-1' });
  const approval = await deliver('orders.approvals', { eventId: 'ap-1', eventType: 'OrderApproved', correlationId: 'c-1', payload: { approver: 'ann' } });
  t.equal(approval, 'ack', 'acknowledged');
  t.equal(store.getInstance(state.id)?.steps['await-approval'], undefined, 'the wait has not started');
  t.same(store.earlyEventsOf(state.id).map((e) => e.eventId), ['ap-1'], 'the approval is kept for the instance');
  await deliver('orders.approvals', { eventId: 'ap-1', eventType: 'OrderApproved', correlationId: 'c-1', payload: { approver: 'ann' } });
  t.equal(store.earlyEventsOf(state.id).length, 1, 'its redelivery is kept once');
  await deliver('orders.approvals', { eventId: 'ap-x', eventType: 'OrderApproved', correlationId: 'someone-else', payload: { approver: 'bob' } });
  await deliver('orders.approvals', { eventId: 'ap-y', eventType: 'OrderRejected', correlationId: 'c-1', payload: {} });
  t.equal(store.earlyEventsOf(state.id).length, 1, 'nor another correlation id nor a type no wait awaits is kept');
  t.match(await engine.metrics(), /sagad_messages_total\{outcome="early"\} 1/);

  await deliver('inventory.events', { eventType: 'Reserved', correlationId: 'c-1', causationId: commandId(store, 'inventory.commands'), payload: {} });
  await engine.settled();
  const after = store.getInstance(state.id);
  t.equal(after?.steps['await-approval']?.status, 'succeeded', 'the wait took the kept approval as it started');
  t.same(after?.steps['await-approval']?.output, { approver: 'ann' });
  t.equal(after?.steps['ship']?.status, 'running', 'and the saga went on');
  t.same(store.earlyEventsOf(state.id), [], 'nothing is kept any more');
  t.match(await engine.metrics(), /sagad_early_events_total\{outcome="delivered"\} 1/);
});

t.test('an event that arrives while another input starts its wait step is taken by the wait, not dropped', async (t) => {
  const { store, engine, deliver } = rig(t, yaml);
  for (let i = 0; i < 10; i++) {
    const { state } = await engine.start({ saga: 'approval', input: { orderId: `o-race-${i}` }, correlationId: `c-race-${i}` });
    // Both read the store before either holds the instance's lock: the approval finds no
    // waiter and the instance as a candidate to keep it for, and then waits for the reply's
    // write, which starts the wait step.
    const [reply, approval] = await Promise.all([
      deliver('inventory.events', { eventType: 'Reserved', correlationId: `c-race-${i}`, causationId: commandId(store, 'inventory.commands'), payload: {} }),
      deliver('orders.approvals', { eventId: `ap-race-${i}`, eventType: 'OrderApproved', correlationId: `c-race-${i}`, payload: { approver: 'ann' } }),
    ]);
    await engine.settled();
    t.same([reply, approval], ['ack', 'ack']);
    const after = store.getInstance(state.id);
    t.equal(after?.steps['await-approval']?.status, 'succeeded', `race ${i}: the wait took the approval`);
    t.same(after?.steps['await-approval']?.output, { approver: 'ann' });
    t.same(store.earlyEventsOf(state.id), [], 'nothing is left kept');
  }
  t.notMatch(await engine.metrics(), /sagad_messages_total\{outcome="unrelated"\}/, 'no approval was taken as concerning no saga');
});

t.test('an early event is kept for every instance of its correlation id, past the first page of them', async (t) => {
  const { store, engine, deliver } = rig(t, yaml);
  const ids: string[] = [];
  for (let i = 0; i < 502; i++) ids.push((await engine.start({ saga: 'approval', input: { orderId: `o-many-${i}` }, correlationId: 'c-many' })).state.id);
  await deliver('orders.approvals', { eventId: 'ap-many', eventType: 'OrderApproved', correlationId: 'c-many', payload: { approver: 'ann' } });
  const keeping = ids.filter((id) => store.earlyEventsOf(id).length === 1);
  t.equal(keeping.length, 502, 'kept by all 502 (a list page holds 500)');
});

t.test('a kept event nothing took is dead-lettered once it expires; an instance keeps a bounded number', async (t) => {
  const { store, engine, deliver } = rig(t, yaml, { earlyEventTtlMs: 60_000 });
  const { state } = await engine.start({ saga: 'approval', input: { orderId: 'o-2' }, correlationId: 'c-2' });
  await deliver('orders.approvals', { eventId: 'ap-2', eventType: 'OrderApproved', correlationId: 'c-2', payload: { approver: 'ann' } });
  t.equal(await engine.settleEarlyEvents(Date.now()), 0, 'nothing is due before it expires');
  t.equal(await engine.settleEarlyEvents(Date.now() + 61_000), 1, 'expired a minute later');
  t.same(store.earlyEventsOf(state.id), []);
  const [summary] = store.listDead({}).items;
  t.match(summary, { subject: 'orders.approvals', reason: /OrderApproved arrived before a wait step of instance .* within SAGA_EARLY_EVENT_TTL \(60000 ms\)/ });
  const letter = store.getDead(summary?.id ?? '');
  t.equal(JSON.parse(new TextDecoder().decode(letter?.data)).eventId, 'ap-2', 'the dead letter holds the message as it arrived');

  for (let i = 0; i < 100; i++) await deliver('orders.approvals', { eventId: `many-${i}`, eventType: 'OrderApproved', correlationId: 'c-2', payload: { approver: 'x' } });
  t.equal(store.earlyEventsOf(state.id).length, 100, 'a hundred are kept');
  await deliver('orders.approvals', { eventId: 'one-too-many', eventType: 'OrderApproved', correlationId: 'c-2', payload: { approver: 'x' } });
  t.equal(store.earlyEventsOf(state.id).length, 100, 'the next is not');
  t.match(store.listDead({}).items[0], { reason: `OrderApproved arrived before the wait step of instance ${state.id} started, and the instance already keeps 100 such events` }, 'it is dead-lettered with the reason, not lost');
});

t.test('a delivery lost between the wait start and the offer is made up by the sweep; a schema misfit is dead-lettered', async (t) => {
  const { store, engine, deliver } = rig(t, yaml);
  const { state } = await engine.start({ saga: 'approval', input: { orderId: 'o-3' }, correlationId: 'c-3' });
  await deliver('inventory.events', { eventType: 'Reserved', correlationId: 'c-3', causationId: commandId(store, 'inventory.commands'), payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps['await-approval']?.status, 'running', 'the wait runs');
  // As if sagad crashed after keeping these, before the wait started and offered them.
  const data = (eventId: string, approver: string) => new TextEncoder().encode(JSON.stringify({
    eventId, eventType: 'OrderApproved', aggregateId: 'o-3', timestamp: new Date().toISOString(), version: 1, correlationId: 'c-3', causationId: null, payload: { approver },
  }));
  const now = Date.now();
  store.keepEarlyEvent({ instanceId: state.id, eventId: 'bad', subject: 'orders.approvals', type: 'OrderApproved', keptAt: now - 2, expiresAt: now + 60_000, headers: {}, data: data('bad', '') }, 100);
  store.keepEarlyEvent({ instanceId: state.id, eventId: 'good', subject: 'orders.approvals', type: 'OrderApproved', keptAt: now - 1, expiresAt: now + 60_000, headers: {}, data: data('good', 'eve') }, 100);
  t.equal(await engine.settleEarlyEvents(now), 2, 'the sweep finds both');
  const after = store.getInstance(state.id);
  t.equal(after?.steps['await-approval']?.status, 'succeeded');
  t.same(after?.steps['await-approval']?.output, { approver: 'eve' }, 'the valid one was taken');
  t.match(store.listDead({}).items.map((d) => d.reason), [/OrderApproved@1 does not match its schema/], 'the misfit is a dead letter');
  t.same(store.earlyEventsOf(state.id), []);
});

t.test('one instance whose delivery fails does not hold up the sweep for the others', async (t) => {
  const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const broken = new Set<string>();
  const { store, engine, deliver } = rig(t, yaml, {
    log: (level, msg, fields) => { logs.push({ level, msg, fields }); },
    wrapStore: (port) => ({ ...port, earlyEventsOf: async (id: string) => {
      if (broken.has(id)) throw new Error(`row of ${id} refused`);
      return port.earlyEventsOf(id);
    } }),
  });
  const ids: string[] = [];
  for (const n of [7, 8]) {
    const { state } = await engine.start({ saga: 'approval', input: { orderId: `o-${n}` }, correlationId: `c-${n}` });
    await deliver('inventory.events', { eventType: 'Reserved', correlationId: `c-${n}`, causationId: commandId(store, 'inventory.commands'), payload: {} });
    ids.push(state.id);
  }
  await engine.settled();
  const [bad = '', good = ''] = ids;
  broken.add(bad);
  // Kept as if sagad crashed before the waits started and offered them; the broken instance's is the older.
  const now = Date.now();
  for (const [i, id] of ids.entries()) {
    const data = new TextEncoder().encode(JSON.stringify({
      eventId: `e-${i}`, eventType: 'OrderApproved', aggregateId: 'x', timestamp: new Date().toISOString(), version: 1, correlationId: `c-${7 + i}`, causationId: null, payload: { approver: 'ann' },
    }));
    store.keepEarlyEvent({ instanceId: id, eventId: `e-${i}`, subject: 'orders.approvals', type: 'OrderApproved', keptAt: now - 10 + i, expiresAt: now + 60_000, headers: {}, data }, 100);
  }
  t.equal(await engine.settleEarlyEvents(now), 1, 'the sweep handled the one it could');
  t.equal(store.getInstance(good)?.steps['await-approval']?.status, 'succeeded', 'the other instance got its event');
  t.equal(store.getInstance(bad)?.steps['await-approval']?.status, 'running');
  t.same(store.earlyEventsOf(bad).map((e) => e.eventId), ['e-0'], 'the failed one stays kept');
  t.match(logs, [{ level: 'warn', msg: 'offering kept early events failed; the next sweep tries again', fields: { instance: bad, error: `row of ${bad} refused` } }]);
  broken.clear();
  t.equal(await engine.settleEarlyEvents(now), 1, 'the next sweep delivers it');
  t.equal(store.getInstance(bad)?.steps['await-approval']?.status, 'succeeded');
});

t.test('a redriven dead letter that changes nothing is logged with the letter\'s id', async (t) => {
  const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const { store, engine, deliver } = rig(t, yaml, { log: (level, msg, fields) => { logs.push({ level, msg, fields }); }, earlyEventTtlMs: 1_000 });
  const { state } = await engine.start({ saga: 'approval', input: { orderId: 'o-9' }, correlationId: 'c-9' });
  const approval = { eventId: 'ap-9', eventType: 'OrderApproved', correlationId: 'c-9', payload: { approver: 'ann' } };
  await deliver('orders.approvals', approval);
  t.equal(await engine.settleEarlyEvents(Date.now() + 2_000), 1, 'kept, and expired: dead-lettered');
  const [letter] = store.listDead({}).items;
  // The wait starts after all; the letter is redriven (the copy comes back with the redrive's header).
  await deliver('inventory.events', { eventType: 'Reserved', correlationId: 'c-9', causationId: commandId(store, 'inventory.commands'), payload: {} });
  t.equal(await deliver('orders.approvals', approval, { 'Saga-Redrive-Of': letter?.id ?? '' }), 'ack');
  t.equal(store.getInstance(state.id)?.steps['await-approval']?.status, 'running', 'it was recorded as processed when it arrived, so it changes nothing');
  t.match(logs.filter((l) => l.msg === 'a redriven dead letter changed nothing'), [{
    level: 'warn', fields: { deadLetter: letter?.id, subject: 'orders.approvals', eventId: 'ap-9', outcome: 'duplicate', why: /processed before \(an early event/ },
  }], 'which is said, with the letter');
  await deliver('orders.approvals', { ...approval, eventId: 'ap-other', correlationId: 'nobody' }, { 'Saga-Redrive-Of': '77' });
  t.match(logs.filter((l) => l.msg === 'a redriven dead letter changed nothing').at(-1), { fields: { deadLetter: '77', outcome: 'unrelated', why: 'it concerns no saga now' } });
  await deliver('orders.approvals', { ...approval, eventId: 'ap-10' }, { 'Saga-Redrive-Of': '78' });
  t.equal(store.getInstance(state.id)?.steps['await-approval']?.status, 'succeeded', 'a redriven copy that is taken');
  t.equal(logs.filter((l) => l.msg === 'a redriven dead letter changed nothing').length, 2, 'is not logged');
});

t.test("a kept event the wait's match does not take stays kept, and expires as a dead letter", async (t) => {
  const matching = yaml.replace('wait: { subject: orders.approvals, type: OrderApproved }',
    'wait: { subject: orders.approvals, type: OrderApproved, match: "{% payload.approver = \'boss\' %}" }');
  const { store, engine, deliver } = rig(t, matching, { earlyEventTtlMs: 60_000 });
  const { state } = await engine.start({ saga: 'approval', input: { orderId: 'o-4' }, correlationId: 'c-4' });
  await deliver('orders.approvals', { eventId: 'not-boss', eventType: 'OrderApproved', correlationId: 'c-4', payload: { approver: 'ann' } });
  await deliver('inventory.events', { eventType: 'Reserved', correlationId: 'c-4', causationId: commandId(store, 'inventory.commands'), payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps['await-approval']?.status, 'running', 'the wait started and did not take it');
  t.same(store.earlyEventsOf(state.id).map((e) => e.eventId), ['not-boss'], 'it stays kept');
  t.equal(await engine.settleEarlyEvents(Date.now()), 1, 'the sweep offers it again');
  t.equal(store.getInstance(state.id)?.steps['await-approval']?.status, 'running', 'and again it is not taken');
  await deliver('orders.approvals', { eventId: 'boss', eventType: 'OrderApproved', correlationId: 'c-4', payload: { approver: 'boss' } });
  t.equal(store.getInstance(state.id)?.steps['await-approval']?.status, 'succeeded', 'the matching event ends the wait');
  t.equal(await engine.settleEarlyEvents(Date.now() + 61_000), 1);
  t.match(store.listDead({}).items.map((d) => d.reason), [/OrderApproved arrived before a wait step/], 'the one never taken is dead-lettered when it expires');
  t.same(store.earlyEventsOf(state.id), []);
});

t.test('kept for an hour by default, counted as kept and as dead-lettered', async (t) => {
  const { store, engine, deliver } = rig(t, yaml);
  const { state } = await engine.start({ saga: 'approval', input: { orderId: 'o-5' }, correlationId: 'c-5' });
  await deliver('orders.approvals', { eventId: 'ap-5', eventType: 'OrderApproved', correlationId: 'c-5', payload: { approver: 'ann' } });
  const [kept] = store.earlyEventsOf(state.id);
  t.equal((kept?.expiresAt ?? 0) - (kept?.keptAt ?? 0), 3_600_000, 'SAGA_EARLY_EVENT_TTL defaults to an hour');
  t.match(await engine.metrics(), /sagad_early_events_total\{outcome="kept"\} 1/);
  t.equal(await engine.settleEarlyEvents((kept?.expiresAt ?? 0) - 1), 0, 'not yet expired');
  t.equal(await engine.settleEarlyEvents((kept?.expiresAt ?? 0) + 1), 1);
  t.match(store.listDead({}).items, [{ reason: `OrderApproved arrived before a wait step of instance ${state.id} awaited it, and no wait step took it within SAGA_EARLY_EVENT_TTL (3600000 ms)` }]);
  t.match(await engine.metrics(), /sagad_early_events_total\{outcome="dead_lettered"\} 1/);
  t.match(await engine.metrics(), /sagad_dead_letters_total\{reason="early_expired"\} 1\n/, 'and as a dead letter, which the DLQ alert counts');
});

t.test('an event handed to the engine without its raw bytes is kept as its envelope\'s JSON', async (t) => {
  const { store, engine } = rig(t, yaml);
  const { state } = await engine.start({ saga: 'approval', input: { orderId: 'o-6' }, correlationId: 'c-6' });
  const envelope = { eventId: 'direct', eventType: 'OrderApproved', correlationId: 'c-6', payload: { approver: 'ann' } };
  t.equal(await engine.receive({
    subject: 'orders.approvals', eventId: 'direct', eventType: 'OrderApproved', correlationId: 'c-6', causationId: '', aggregateId: 'a', version: 1, payload: { approver: 'ann' }, envelope,
  }), 'early');
  const [kept] = store.earlyEventsOf(state.id);
  t.same(kept?.headers, {});
  t.same(JSON.parse(new TextDecoder().decode(kept?.data)), envelope);
  t.match(kept, { instanceId: state.id, eventId: 'direct', subject: 'orders.approvals', type: 'OrderApproved' });
  t.equal(await engine.receive({
    subject: 'orders.approvals', eventId: 'nobody', eventType: 'OrderApproved', correlationId: '', causationId: '', aggregateId: 'a', version: 1, payload: {}, envelope: {},
  }), 'unrelated', 'an event without a correlation id is nobody\'s');
});

t.test('the sweep drops kept bytes that are no envelope, and leaves alone an instance that no longer runs', async (t) => {
  const { store, engine, deliver } = rig(t, yaml);
  const { state } = await engine.start({ saga: 'approval', input: { orderId: 'o-7' }, correlationId: 'c-7' });
  await deliver('inventory.events', { eventType: 'Reserved', correlationId: 'c-7', causationId: commandId(store, 'inventory.commands'), payload: {} });
  await engine.settled();
  const now = Date.now();
  store.keepEarlyEvent({ instanceId: state.id, eventId: 'junk', subject: 'orders.approvals', type: 'OrderApproved', keptAt: now, expiresAt: now + 60_000, headers: {}, data: new TextEncoder().encode('junk') }, 100);
  t.equal(await engine.settleEarlyEvents(now), 1);
  t.same(store.earlyEventsOf(state.id), [], 'dropped');
  t.same(store.listDead({}).items, [], 'not a dead letter');
  t.equal(store.getInstance(state.id)?.steps['await-approval']?.status, 'running', 'the wait still runs');

  const other = await engine.start({ saga: 'approval', input: { orderId: 'o-8' }, correlationId: 'c-8' });
  await deliver('inventory.events', { eventType: 'Reserved', correlationId: 'c-8', causationId: commandId(store, 'inventory.commands'), payload: {} });
  await engine.settled();
  await engine.cancel(other.state.id, 'stop');
  const data = new TextEncoder().encode(JSON.stringify({ eventId: 'late', eventType: 'OrderApproved', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId: 'c-8', causationId: null, payload: { approver: 'ann' } }));
  store.keepEarlyEvent({ instanceId: other.state.id, eventId: 'late', subject: 'orders.approvals', type: 'OrderApproved', keptAt: now, expiresAt: now + 60_000, headers: {}, data }, 100);
  const before = store.getInstance(other.state.id);
  await engine.settleEarlyEvents(now);
  t.same(store.getInstance(other.state.id), before, 'the cancelled instance takes nothing');
  t.same(store.earlyEventsOf(other.state.id).map((e) => e.eventId), ['late'], 'and the event stays kept until it expires');
});

t.test('a redelivered event that a first wait step took is not kept for a second wait step on it, which would take it again', async (t) => {
  const twoWaits = `
version: 1
sagas:
  - name: two-approvals
    start: { key: "{% $input.orderId %}" }
    defaults: { timeout: 1m, retry: { maxAttempts: 2, initialInterval: 100ms } }
    steps:
      - name: first-approval
        wait: { subject: orders.approvals, type: OrderApproved }
        timeout: 1h
      - name: reserve
        command: { subject: inventory.commands, type: Reserve, payload: { orderId: "{% $input.orderId %}" } }
        reply: { subject: inventory.events, success: [Reserved] }
        compensate:
          command: { subject: inventory.commands, type: Release }
          reply: { subject: inventory.events, success: [Released] }
      - name: second-approval
        wait: { subject: orders.approvals, type: OrderApproved }
        timeout: 1h
`;
  const { store, engine, deliver } = rig(t, twoWaits);
  const { state } = await engine.start({ saga: 'two-approvals', input: { orderId: 'o-1' }, correlationId: 'c-1' });
  const approval = { eventId: 'ap-1', eventType: 'OrderApproved', correlationId: 'c-1', payload: { approver: 'ann' } };
  await deliver('orders.approvals', approval);
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps['first-approval']?.status, 'succeeded', 'the first wait took it');
  // Its ack was lost (a crash after the commit): JetStream delivers it again while the command step runs.
  t.equal(await deliver('orders.approvals', approval), 'ack', 'the redelivery is acknowledged');
  t.same(store.earlyEventsOf(state.id), [], 'and not kept for the second wait');
  await deliver('inventory.events', { eventType: 'Reserved', correlationId: 'c-1', causationId: commandId(store, 'inventory.commands'), payload: {} });
  await engine.settled();
  const after = store.getInstance(state.id);
  t.equal(after?.steps['second-approval']?.status, 'running', 'the second wait waits for an approval of its own');
  t.equal(after?.status, 'running');
  const taken = store.history(state.id).filter((e) => e.type === 'StepSucceeded' && String((e.data as { step?: unknown }).step).endsWith('approval'));
  t.equal(taken.length, 1, 'ap-1 was applied once');
});
