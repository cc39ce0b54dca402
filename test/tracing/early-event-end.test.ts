/**
 * A `wait` step that takes an event kept before it started (engine/runtime/early-delivery.ts:
 * offered when the wait starts, or by the sweep) is traced as any other committed change:
 * when taking it ends the instance, the instance's saga span is written. The engine runs on a
 * real SQLite file, without NATS; messages go through the inbound handler.
 */
import t from 'tap';
import { rig } from '../runtime/engine-rig.js';
import { commandId, memoryTracing, sagaSpanId, spansOf } from './memory.js';

const yaml = `
version: 1
sagas:
  - name: approval
    defaults: { timeout: 1s, retry: { maxAttempts: 2, initialInterval: 100ms } }
    steps:
      - name: reserve
        command: { subject: inventory.commands, type: Reserve, payload: {} }
        reply: { subject: inventory.events, success: [Reserved] }
        compensate:
          command: { subject: inventory.commands, type: Release }
          reply: { subject: inventory.events, success: [Released] }
      - name: await-approval
        wait: { subject: orders.approvals, type: OrderApproved }
        timeout: 1h
`;

t.test('an approval kept before its wait started, taken as the wait starts, completes the instance: its saga span is written', async (t) => {
  const mem = memoryTracing();
  const { store, engine, deliver } = rig(t, yaml, { tracing: mem.tracing });
  const { state } = await engine.start({ saga: 'approval', input: {}, correlationId: 'c-1' });
  await deliver('orders.approvals', { eventId: 'ap-1', eventType: 'OrderApproved', correlationId: 'c-1', payload: { approver: 'ann' } });
  t.same(store.earlyEventsOf(state.id).map((e) => e.eventId), ['ap-1'], 'the approval is kept');
  await deliver('inventory.events', { eventType: 'Reserved', correlationId: 'c-1', causationId: commandId(store, 'inventory.commands'), payload: {} });
  await engine.settled();
  const after = store.getInstance(state.id);
  t.equal(after?.status, 'completed', 'the wait took the kept approval and the instance completed');
  t.match(spansOf(mem.exporter, state.id, 'step reserve').map((s) => s.attributes['saga.outcome']), ['succeeded'], 'the reply ended the command step\'s span');
  const saga = spansOf(mem.exporter, state.id, 'saga approval');
  t.equal(saga.length, 1, 'one saga span');
  t.match(saga[0]?.attributes, { 'saga.outcome': 'completed', 'saga.instance.id': state.id });
  t.equal(saga[0]?.spanContext().spanId, sagaSpanId(after), 'with the id its trace context fixed');
});

t.test('an approval the sweep offers to a running wait completes the instance: its saga span is written', async (t) => {
  const mem = memoryTracing();
  const { store, engine, deliver } = rig(t, yaml, { tracing: mem.tracing });
  const { state } = await engine.start({ saga: 'approval', input: {}, correlationId: 'c-2' });
  await deliver('inventory.events', { eventType: 'Reserved', correlationId: 'c-2', causationId: commandId(store, 'inventory.commands'), payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps['await-approval']?.status, 'running', 'the wait runs');
  // Kept as if sagad crashed after keeping it, before the wait started and offered it.
  const now = Date.now();
  const data = new TextEncoder().encode(JSON.stringify({
    eventId: 'ap-2', eventType: 'OrderApproved', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId: 'c-2', causationId: null, payload: { approver: 'eve' },
  }));
  store.keepEarlyEvent({ instanceId: state.id, eventId: 'ap-2', subject: 'orders.approvals', type: 'OrderApproved', keptAt: now - 1, expiresAt: now + 60_000, headers: {}, data }, 100);
  t.equal(await engine.settleEarlyEvents(now), 1, 'the sweep delivers it');
  t.equal(store.getInstance(state.id)?.status, 'completed');
  t.match(spansOf(mem.exporter, state.id, 'saga approval').map((s) => s.attributes['saga.outcome']), ['completed'], 'the saga span is written');
});
