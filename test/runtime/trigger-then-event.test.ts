/**
 * The consumer hands a pull's messages to the inbound handler all at once, in stream order. A
 * trigger and an event that follows it on the same subject (OrderPlaced, then OrderPaid for the
 * same order) must reach the engine in that order: the event is read after the trigger's
 * instance is committed, and is kept for (or taken by) its wait step, not acked as unrelated.
 */
import t from 'tap';
import { StoreError, StoreErrorCode } from '../../engine/store/errors.js';
import { rig } from './engine-rig.js';

const yaml = (firstWait: boolean) => `
version: 1
sagas:
  - name: order
    start:
      on: { subject: orders.events, type: OrderPlaced }
      key: "{% $input.orderId %}"
    defaults: { timeout: 1h }
    steps:
${firstWait ? '' : `      - name: reserve
        command: { subject: inventory.commands, type: Reserve }
        reply: { subject: inventory.events, success: [Reserved] }
        compensate:
          command: { subject: inventory.commands, type: Release }
          reply: { subject: inventory.events, success: [Released] }
`}      - name: paid
        wait: { subject: orders.events, type: OrderPaid }
        timeout: 1h
      - name: ship
        pivot: true
        command: { subject: shipping.commands, type: Ship }
        reply: { subject: shipping.events, success: [Shipped] }
`;

// A payload over 64 KB: such a message waits a turn of the event loop of its own before it is read.
const big = 'x'.repeat(70_000);

for (const size of ['small', 'big'] as const) {
  t.test(`a ${size} trigger and the event after it, handed over in one turn: the event is kept for the wait step that comes later`, async (t) => {
    const r = rig(t, yaml(false));
    const placed = r.deliver('orders.events', { eventType: 'OrderPlaced', correlationId: 'c-1', payload: { orderId: 'o-1', ...(size === 'big' ? { note: big } : {}) } });
    const paid = r.deliver('orders.events', { eventType: 'OrderPaid', correlationId: 'c-1', payload: { orderId: 'o-1' } });
    t.same(await Promise.all([placed, paid]), ['ack', 'ack']);
    const [inst] = r.store.listInstances({}).items;
    if (inst === undefined) throw new Error('the trigger started nothing');
    t.equal(r.store.earlyEventsOf(inst.id).length, 1, 'OrderPaid is kept for the paid step');
  });

  t.test(`a ${size} trigger and the event after it, handed over in one turn: a wait step that starts at once takes the event`, async (t) => {
    const r = rig(t, yaml(true));
    const placed = r.deliver('orders.events', { eventType: 'OrderPlaced', correlationId: 'c-1', payload: { orderId: 'o-1', ...(size === 'big' ? { note: big } : {}) } });
    const paid = r.deliver('orders.events', { eventType: 'OrderPaid', correlationId: 'c-1', payload: { orderId: 'o-1' } });
    t.same(await Promise.all([placed, paid]), ['ack', 'ack']);
    const [inst] = r.store.listInstances({}).items;
    if (inst === undefined) throw new Error('the trigger started nothing');
    const state = r.store.getInstance(inst.id);
    t.equal(state?.steps.paid?.status, 'succeeded', 'the wait step took OrderPaid');
    t.equal(state?.steps.ship?.status, 'running', 'and the saga went on');
  });
}

t.test("the trigger's commit fails once (the store unavailable) and is tried again: the event after it still waits for it", async (t) => {
  let failed = false;
  const r = rig(t, yaml(false), {
    wrapStore: (port) => ({
      ...port,
      commit: async (w) => {
        // The trigger's write: a new instance. Its first try meets a store that is down.
        if (!failed && w.changes.some((c) => c.expectedVersion === 0)) {
          failed = true;
          throw new StoreError(StoreErrorCode.StoreUnavailable, 'the database is restarting');
        }
        return port.commit(w);
      },
    }),
  });
  const placed = r.deliver('orders.events', { eventType: 'OrderPlaced', correlationId: 'c-1', payload: { orderId: 'o-1' } });
  const paid = r.deliver('orders.events', { eventType: 'OrderPaid', correlationId: 'c-1', payload: { orderId: 'o-1' } });
  t.same(await Promise.all([placed, paid]), ['ack', 'ack']);
  t.ok(failed, 'the first commit of the trigger failed');
  const [inst] = r.store.listInstances({}).items;
  if (inst === undefined) throw new Error('the trigger started nothing');
  t.equal(r.store.earlyEventsOf(inst.id).length, 1, 'OrderPaid is kept for the paid step');
});

t.test('an event that also starts a saga of its own (OrderPaid starts an invoice) still waits for the trigger before it', async (t) => {
  const invoice = `  - name: invoice
    start:
      on: { subject: orders.events, type: OrderPaid }
      key: "{% $input.orderId %}"
    defaults: { timeout: 1h }
    steps:
      - name: bill
        pivot: true
        command: { subject: billing.commands, type: Bill }
        reply: { subject: billing.events, success: [Billed] }
`;
  const r = rig(t, yaml(false) + invoice);
  const placed = r.deliver('orders.events', { eventType: 'OrderPlaced', correlationId: 'c-1', payload: { orderId: 'o-1' } });
  const paid = r.deliver('orders.events', { eventType: 'OrderPaid', correlationId: 'c-1', payload: { orderId: 'o-1' } });
  t.same(await Promise.all([placed, paid]), ['ack', 'ack']);
  const order = r.store.listInstances({ saga: 'order' }).items[0];
  if (order === undefined) throw new Error('OrderPlaced started nothing');
  t.equal(r.store.earlyEventsOf(order.id).length, 1, 'OrderPaid is kept for the order\'s paid step');
  t.equal(r.store.listInstances({ saga: 'invoice' }).items.length, 1, 'and it started the invoice');
});
