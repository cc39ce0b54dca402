import t from 'tap';
import { setExpressionLimits } from '../../engine/definitions/expression-limits.js';
import { parseEnvelope } from '../../engine/transport/envelope.js';
import type { Store } from '../../engine/store/index.js';
import { rig, type Rig } from './engine-rig.js';

/**
 * A wait step in flight past the pivot when a step beside it fails: the instance is `failed`
 * and takes no event, so the event its wait awaits is kept for it (as an event that comes
 * before its wait started is) and offered when an operator's retry resumes the instance,
 * instead of being taken as processed and lost, which left the resumed wait waiting for an
 * event that had already come. Likewise a child saga step in flight: a child that ended while
 * its parent was failed is heard again when the retry resumes the parent. The engine runs on a
 * real SQLite file; messages go through the inbound handler as the consumers hand them over.
 */
const yaml = `
version: 1
sagas:
  - name: settle
    defaults: { timeout: 1s, retry: { maxAttempts: 2, initialInterval: 100ms } }
    steps:
      - name: ship
        pivot: true
        command: { subject: shipping.commands, type: Ship, payload: {} }
        reply: { subject: shipping.events, success: [Shipped] }
      - name: after
        parallel:
          - - name: delivered
              wait: { subject: shipping.deliveries, type: Delivered }
          - - name: stamp
              when: "{% $count([1..$input.n]) > 0 %}"
              command: { subject: notes.commands, type: StampNote, payload: {} }
              reply: { subject: notes.events, success: [NoteStamped] }
`;

/** The id of the latest command sent on `subject`, from the outbox. */
function commandId(store: Store, subject: string): string {
  const row = store.unsent(1000).filter((r) => r.subject === subject).at(-1);
  const env = row === undefined ? null : parseEnvelope(row.data);
  if (env === null || !env.ok) throw new Error(`no command on ${subject}`);
  return env.envelope.eventId;
}

/**
 * Delivers the reply to `ship` (the pivot) while the stamp's `when` cannot be evaluated (a
 * range over the expression limit): the stamp fails past the pivot, and the instance is failed.
 */
async function shippedWhileStampFails(store: Store, deliver: Rig['deliver'], correlationId: string): ReturnType<Rig['deliver']> {
  setExpressionLimits({ timeoutMs: 60_000, maxItems: 5 });
  try {
    return await deliver('shipping.events', { eventType: 'Shipped', correlationId, causationId: commandId(store, 'shipping.commands'), payload: {} });
  } finally {
    setExpressionLimits({ timeoutMs: 60_000 });
  }
}

t.test('an event for the wait of a failed instance is kept, and taken by the wait once a retry resumes the instance', async (t) => {
  const { store, engine, deliver } = rig(t, yaml);
  const { state } = await engine.start({ saga: 'settle', input: { n: 10 }, correlationId: 'c-1' });
  t.equal(await shippedWhileStampFails(store, deliver, 'c-1'), 'ack');
  t.equal(store.getInstance(state.id)?.status, 'failed', 'failed past the pivot');
  t.equal(store.getInstance(state.id)?.steps.delivered?.status, 'running', 'its wait in flight');

  t.equal(await deliver('shipping.deliveries', { eventId: 'dv-1', eventType: 'Delivered', correlationId: 'c-1', payload: { at: 'door' } }), 'ack');
  t.same(store.earlyEventsOf(state.id).map((e) => e.eventId), ['dv-1'], 'the delivery is kept for the instance');
  t.equal(store.getInstance(state.id)?.steps.delivered?.status, 'running', 'not taken while failed');

  await engine.retry(state.id, { by: 'ops' });
  await engine.settled();
  const resumed = store.getInstance(state.id);
  t.equal(resumed?.steps.delivered?.status, 'succeeded', 'the resumed wait took the kept delivery');
  t.same(resumed?.steps.delivered?.output, { at: 'door' });
  t.same(store.earlyEventsOf(state.id), [], 'nothing is kept any more');

  t.equal(await deliver('notes.events', { eventType: 'NoteStamped', correlationId: 'c-1', causationId: commandId(store, 'notes.commands'), payload: {} }), 'ack');
  t.equal(store.getInstance(state.id)?.status, 'completed', 'and the saga completes');
});

t.test('an event that comes after a retry resumed the instance is taken by its wait', async (t) => {
  const { store, engine, deliver } = rig(t, yaml);
  const { state } = await engine.start({ saga: 'settle', input: { n: 10 }, correlationId: 'c-2' });
  t.equal(await shippedWhileStampFails(store, deliver, 'c-2'), 'ack');
  t.equal(store.getInstance(state.id)?.status, 'failed');
  await engine.retry(state.id, { by: 'ops' });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps.delivered?.status, 'running', 'the resumed wait waits');
  t.same((await engine.deps.store.waiting('shipping.deliveries', 'Delivered', 'c-2')).map((w) => w.instanceId), [state.id], 'and its wait is indexed again');
  t.equal(await deliver('shipping.deliveries', { eventId: 'dv-2', eventType: 'Delivered', correlationId: 'c-2', payload: { at: 'porch' } }), 'ack');
  t.equal(store.getInstance(state.id)?.steps.delivered?.status, 'succeeded', 'the delivery was taken');
  t.same(store.getInstance(state.id)?.steps.delivered?.output, { at: 'porch' });
});

const withChild = `
version: 1
sagas:
  - name: notify
    defaults: { timeout: 1s, retry: { maxAttempts: 2, initialInterval: 100ms } }
    steps:
      - name: send
        pivot: true
        command: { subject: mail.commands, type: SendMail, payload: {} }
        reply: { subject: mail.events, success: [MailSent] }
  - name: settle
    defaults: { timeout: 1s, retry: { maxAttempts: 2, initialInterval: 100ms } }
    steps:
      - name: ship
        pivot: true
        command: { subject: shipping.commands, type: Ship, payload: {} }
        reply: { subject: shipping.events, success: [Shipped] }
      - name: after
        parallel:
          - - name: tell
              saga: notify
              input: {}
          - - name: stamp
              when: "{% $count([1..$input.n]) > 0 %}"
              command: { subject: notes.commands, type: StampNote, payload: {} }
              reply: { subject: notes.events, success: [NoteStamped] }
`;

t.test('a child that ended while its parent was failed is heard again when a retry resumes the parent', async (t) => {
  const { store, engine, deliver } = rig(t, withChild);
  const { state } = await engine.start({ saga: 'settle', input: { n: 10 }, correlationId: 'c-2' });
  t.equal(await shippedWhileStampFails(store, deliver, 'c-2'), 'ack');
  const failed = store.getInstance(state.id);
  t.equal(failed?.status, 'failed', 'failed past the pivot');
  const childId = failed?.steps.tell?.awaiting;
  if (childId === undefined || childId === null) throw new Error('no child started');
  t.equal(failed?.steps.tell?.status, 'running', 'its child saga step in flight');

  await deliver('mail.events', { eventType: 'MailSent', correlationId: 'c-2', causationId: commandId(store, 'mail.commands'), payload: { to: 'ann' } });
  t.equal(store.getInstance(childId)?.status, 'completed', 'the child completes');
  t.equal(store.getInstance(state.id)?.steps.tell?.status, 'running', 'its end is not taken by the failed parent');

  await engine.retry(state.id, { by: 'ops' });
  const resumed = store.getInstance(state.id);
  t.equal(resumed?.steps.tell?.status, 'succeeded', "the retry hears the child's end again: the step succeeded");
  t.same((resumed?.steps.tell?.output as { id?: string } | undefined)?.id, childId);
  t.equal(await deliver('notes.events', { eventType: 'NoteStamped', correlationId: 'c-2', causationId: commandId(store, 'notes.commands'), payload: {} }), 'ack');
  t.equal(store.getInstance(state.id)?.status, 'completed', 'and the parent completes');
});
