import { resolve } from 'node:path';
import t from 'tap';
import type { CompiledSaga, ExprScope, Template } from '../../engine/core/definition.js';
import { leafSteps } from '../../engine/core/definition.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { commandStep, waitStep } from './fixtures/saga-yaml.js';

const root = resolve(import.meta.dirname, '../..');

function load(file: string): { sagas: CompiledSaga[]; files: string[] } {
  const r = loadDefinitionsFile(resolve(root, file));
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.file}:${e.line}: ${e.message}`).join('\n'));
  return r;
}

/** Renders a Template the way the core will, for these tests only. */
function render(tpl: Template, scope: ExprScope): unknown {
  switch (tpl.kind) {
    case 'literal': return tpl.value;
    case 'expr': return tpl.expr.evaluate(scope);
    case 'array': return tpl.items.map((i) => render(i, scope));
    case 'object': return Object.fromEntries(tpl.entries.map(([k, v]) => [k, render(v, scope)]));
  }
}

t.test('saga-definitions.yaml loads order-fulfillment with its schema files', async (t) => {
  const { sagas, files } = load('saga-definitions.yaml');
  t.same(sagas.map((s) => s.name), ['order-fulfillment']);
  t.same(files, ['saga-definitions.yaml', 'sagas/order-fulfillment.yaml', 'sagas/schemas/order-placed.v1.json', 'sagas/schemas/reserve-inventory.v1.json'].map((f) => resolve(root, f)));
  const saga = sagas[0]!;
  t.match(saga, { start: { on: { subject: 'orders.events', type: 'OrderPlaced' } }, timeout: 600_000 });
  t.same(saga.stages.map((s) => s.name), ['reserve-inventory', 'charge-payment', 'ship-order']);
  t.same(leafSteps(saga).map((s) => [s.name, s.afterPivot]), [['reserve-inventory', false], ['charge-payment', false], ['ship-order', true]]);
  const charge = commandStep(saga, 'charge-payment');
  t.same(charge.reply, { subject: 'payments.events', success: ['PaymentCharged'], failure: ['PaymentDeclined'], retryable: ['PaymentGatewayBusy'] });
  t.match(charge.compensate, { command: { type: 'RefundPayment' }, reply: { success: ['PaymentRefunded'] }, timeout: 10_000 });
  const ship = commandStep(saga, 'ship-order');
  t.match(ship, { pivot: true, compensate: null, retry: { maxAttempts: null } });
  t.same(Object.keys(saga.schemas).sort(), ['InventoryReserved@1', 'OrderPlaced@1', 'ReserveInventory@1']);
  t.equal(saga.schemas['ReserveInventory@1']!({ orderId: 'o-1', items: [{ sku: 'a', quantity: 1 }] }), null);
  t.match(saga.schemas['ReserveInventory@1']!({ orderId: 'o-1' }), /payload must have required property 'items'/);
  t.match(saga.hash, /^[0-9a-f]{64}$/);
});

t.test('the order payloads render from a scope', async (t) => {
  const saga = load('sagas/order-fulfillment.yaml').sagas[0]!;
  const scope: ExprScope = {
    input: { orderId: 'o-1', customerId: 'c-7', total: 42, items: [{ sku: 'a', quantity: 1 }] },
    steps: { 'reserve-inventory': { reservationId: 'r-1' }, 'charge-payment': { paymentId: 'p-1' } },
    saga: { id: 'i-1', key: 'o-1', name: saga.name, correlationId: 'c-1' },
    event: null,
  };
  t.equal(saga.start.key?.evaluate(scope), 'o-1');
  const reserve = commandStep(saga, 'reserve-inventory');
  t.same(render(reserve.command.payload, scope), { orderId: 'o-1', items: [{ sku: 'a', quantity: 1 }] });
  t.same(render(reserve.compensate!.command.payload, scope), { reservationId: 'r-1' });
  t.same(render(commandStep(saga, 'charge-payment').command.payload, scope), { orderId: 'o-1', customerId: 'c-7', amount: 42, currency: 'EUR' });
});

t.test('trip-booking loads with a parallel group, a wait and a when', async (t) => {
  const saga = load('sagas/trip-booking.yaml').sagas[0]!;
  const [group, wait, car] = saga.stages;
  t.match(group, { kind: 'parallel', name: 'book-travel', when: null });
  if (group?.kind !== 'parallel') throw new Error('expected a group');
  t.same(group.branches.map((b) => b.map((s) => s.name)), [['book-flight'], ['book-hotel']]);
  t.match(wait, { kind: 'wait', subject: 'payments.events', type: 'PaymentConfirmed', timeout: 3_600_000, compensate: null, afterPivot: false });
  const match = waitStep(saga, 'await-payment').match!;
  const scope: ExprScope = { input: { bookingId: 'b-1', needsCar: false }, steps: {}, saga: { id: 'i', key: 'b-1', name: saga.name, correlationId: 'c' }, event: null };
  t.equal(match.evaluate(scope, { payload: { bookingId: 'b-1' } }), true);
  t.equal(match.evaluate(scope, { payload: { bookingId: 'b-2' } }), false);
  t.equal(car?.when?.evaluate(scope), false);
  t.match(commandStep(saga, 'send-itinerary'), { afterPivot: true, compensate: null, retry: { maxAttempts: null } });
  t.match(commandStep(saga, 'book-hotel'), { timeout: 60_000, compensate: { timeout: 60_000 } });
  t.match(commandStep(saga, 'book-flight'), { timeout: 20_000, compensate: { timeout: 20_000, retry: { maxAttempts: null, initialInterval: 1000 } } });
});

t.test('the hash is stable and changes with the definition', async (t) => {
  const a = load('sagas/order-fulfillment.yaml').sagas[0]!.hash;
  t.equal(load('saga-definitions.yaml').sagas[0]!.hash, a, 'the same saga through an include');
  t.not(load('sagas/trip-booking.yaml').sagas[0]!.hash, a);
});
