import t from 'tap';
import { rig } from './engine-rig.js';

/**
 * Every incoming message is checked against its `Type@version` (issue 12): a trigger event at
 * its envelope's version (not always @1), a wait step's event against the saga's schemas like
 * a reply. A mismatch is a dead letter with the reason, and changes no instance.
 */
const yaml = `
version: 1
sagas:
  - name: approval
    start:
      on: { subject: orders.events, type: OrderPlaced }
      key: "{% $input.orderId %}"
    defaults: { timeout: 1s, retry: { maxAttempts: 2, initialInterval: 100ms } }
    schemas:
      OrderPlaced@1: { type: object, required: [orderId], properties: { orderId: { type: string } } }
      OrderPlaced@2: { type: object, required: [orderId, channel], properties: { orderId: { type: string }, channel: { type: string } } }
      OrderApproved@1: { type: object, required: [approver], properties: { approver: { type: string, minLength: 1 } } }
    steps:
      - name: await-approval
        wait: { subject: orders.approvals, type: OrderApproved }
        timeout: 1m
      - name: ship
        pivot: true
        command: { subject: shipping.commands, type: ShipOrder, payload: { orderId: "{% $input.orderId %}" } }
        reply: { subject: shipping.events, success: [OrderShipped] }
        retry: { maxAttempts: unlimited, initialInterval: 100ms }
`;

t.test('a trigger event is checked against the schema of its envelope version', async (t) => {
  const { store, deliver } = rig(t, yaml);
  await deliver('orders.events', { eventType: 'OrderPlaced', version: 1, payload: { orderId: 'o-1' } });
  await deliver('orders.events', { eventType: 'OrderPlaced', version: 2, payload: { orderId: 'o-2' } });
  await deliver('orders.events', { eventType: 'OrderPlaced', version: 2, payload: { orderId: 'o-3', channel: 'web' } });
  await deliver('orders.events', { eventType: 'OrderPlaced', version: 3, payload: { orderId: 'o-4', channel: 'web' } });
  t.same(store.listInstances({}).items.map((i) => i.key).sort(), ['o-1', 'o-3'], 'only the events that fit their own version start a saga');
  const reasons = store.listDead({}).items.map((d) => d.reason).sort();
  t.equal(reasons.length, 2, 'the two misfits are dead letters');
  t.match(reasons, [/input does not match the OrderPlaced@2 schema of saga approval: .*channel/, /input is OrderPlaced@3, which has no schema in saga approval: it declares OrderPlaced@1, OrderPlaced@2/]);
});

t.test("a wait step's event is checked against the saga's schema before it moves the saga", async (t) => {
  const { store, deliver } = rig(t, yaml);
  await deliver('orders.events', { eventType: 'OrderPlaced', correlationId: 'c-7', payload: { orderId: 'o-7' } });
  const id = store.listInstances({}).items[0]?.id ?? '';
  t.equal(store.getInstance(id)?.steps['await-approval']?.status, 'running', 'the saga waits for the approval');

  await deliver('orders.approvals', { eventType: 'OrderApproved', correlationId: 'c-7', payload: { approver: '' } });
  t.equal(store.getInstance(id)?.steps['await-approval']?.status, 'running', 'a schema-invalid approval does not end the wait');
  await deliver('orders.approvals', { eventType: 'OrderApproved', version: 2, correlationId: 'c-7', payload: { approver: 'ann' } });
  t.equal(store.getInstance(id)?.steps['await-approval']?.status, 'running', 'nor does an approval of a version the saga has no schema for');
  t.match(store.listDead({}).items.map((d) => d.reason).sort(), [
    /OrderApproved@1 does not match its schema in saga approval/, /OrderApproved@2 has no schema in saga approval, which declares OrderApproved@1/,
  ], 'both are dead letters with the reason');

  await deliver('orders.approvals', { eventType: 'OrderApproved', correlationId: 'other', payload: {} });
  t.equal(store.listDead({}).items.length, 2, "an invalid event for no saga's wait is not judged by this saga's schemas");
  await deliver('orders.approvals', { eventType: 'OrderApproved', correlationId: 'c-7', payload: { approver: 'ann' } });
  t.equal(store.getInstance(id)?.steps['await-approval']?.status, 'succeeded', 'a valid approval ends the wait');
});
