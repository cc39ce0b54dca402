import t from 'tap';
import type { InstanceState } from '../../engine/core/index.js';
import { awaitsLater, awaitsNow, deliveryId, incomingOf } from '../../engine/runtime/early-events.js';
import type { Store } from '../../engine/store/index.js';
import { parseEnvelope } from '../../engine/transport/envelope.js';
import { rig } from './engine-rig.js';

/**
 * The pure parts of early events (engine/runtime/early-events.ts) on instances the engine
 * really ran to each point: whether an instance will wait for an event later (its wait step
 * has not started) or waits for it now (the step runs), by subject and type; a kept message
 * read back as an input; the id of its delivery.
 */
const yaml = `
version: 1
sagas:
  - name: two-waits
    defaults: { timeout: 1h }
    steps:
      - name: reserve
        command: { subject: inv.commands, type: Reserve }
        reply: { subject: inv.events, success: [Reserved] }
        compensate:
          command: { subject: inv.commands, type: Release }
          reply: { subject: inv.events, success: [Released] }
      - name: approve
        wait: { subject: orders.approvals, type: Approved }
      - name: pay
        wait: { subject: orders.payments, type: Paid }
      - name: ship
        pivot: true
        command: { subject: ship.commands, type: Ship }
        reply: { subject: ship.events, success: [Shipped] }
`;

function lastCommand(store: Store, subject: string): string {
  const row = store.unsent(1000).filter((r) => r.subject === subject).at(-1);
  const env = row === undefined ? null : parseEnvelope(row.data);
  if (env === null || !env.ok) throw new Error(`no command on ${subject}`);
  return env.envelope.eventId;
}

t.test('later: a running instance whose wait for this subject and type has not started; now: one whose wait runs', async (t) => {
  const { store, engine, deliver } = rig(t, yaml);
  const def = engine.definitions()[0];
  if (def === undefined) throw new Error('no definition');
  const { state } = await engine.start({ saga: 'two-waits', input: {}, correlationId: 'c-1' });
  const at = (): InstanceState => {
    const s = store.getInstance(state.id);
    if (s === undefined) throw new Error('gone');
    return s;
  };
  const both = (s: InstanceState, subject: string, type: string) => [awaitsLater(def, s, subject, type), awaitsNow(def, s, subject, type)];

  t.same(both(at(), 'orders.approvals', 'Approved'), [true, false], 'before the wait: later, not now');
  t.same(both(at(), 'orders.payments', 'Paid'), [true, false], 'the second wait too');
  t.same(both(at(), 'orders.approvals', 'Paid'), [false, false], 'no wait for that type on that subject');
  t.same(both(at(), 'orders.payments', 'Approved'), [false, false], 'nor for that subject with that type');
  t.same(both(at(), 'inv.events', 'Reserved'), [false, false], 'a reply is not a wait\'s event');

  await deliver('inv.events', { eventType: 'Reserved', correlationId: 'c-1', causationId: lastCommand(store, 'inv.commands') });
  t.equal(at().steps.approve?.status, 'running');
  t.same(both(at(), 'orders.approvals', 'Approved'), [false, true], 'the wait runs: now, not later');
  t.same(both(at(), 'orders.payments', 'Paid'), [true, false], 'the next wait is still to come');

  await deliver('orders.approvals', { eventType: 'Approved', correlationId: 'c-1' });
  t.equal(at().steps.approve?.status, 'succeeded');
  t.same(both(at(), 'orders.approvals', 'Approved'), [false, false], 'a wait that ended awaits nothing');
  t.same(both(at(), 'orders.payments', 'Paid'), [false, true]);

  await engine.cancel(state.id, 'stop');
  t.not(at().status, 'running');
  t.same(both(at(), 'orders.payments', 'Paid'), [false, false], 'an instance that no longer runs awaits nothing');
  t.same(both({ ...at(), status: 'running' } as InstanceState, 'orders.payments', 'Paid'), [false, false], 'its steps say so too');
});

t.test('a kept message is read back as the input it was; bytes that are no envelope give null', async (t) => {
  const envelope = { eventId: 'e-1', eventType: 'Approved', aggregateId: 'agg', timestamp: new Date(0).toISOString(), version: 2, correlationId: 'c-1', causationId: 'cause', payload: { a: 1 } };
  const kept = { instanceId: 'i', eventId: 'e-1', subject: 'orders.approvals', type: 'Approved', keptAt: 1, expiresAt: 2, headers: {}, data: new TextEncoder().encode(JSON.stringify(envelope)) };
  t.same(incomingOf(kept), {
    subject: 'orders.approvals', eventId: 'e-1', eventType: 'Approved', correlationId: 'c-1', causationId: 'cause', aggregateId: 'agg', version: 2, payload: { a: 1 },
    envelope: { ...envelope },
  });
  const uncaused = { ...kept, data: new TextEncoder().encode(JSON.stringify({ ...envelope, causationId: null })) };
  t.equal(incomingOf(uncaused)?.causationId, '', 'no causation id is the empty one');
  t.equal(incomingOf({ ...kept, data: new TextEncoder().encode('junk') }), null);
  t.equal(deliveryId('inst-1', 'ev-9'), 'early/inst-1/ev-9');
});
