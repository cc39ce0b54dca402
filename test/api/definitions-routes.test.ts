import t from 'tap';
import { definitionAt } from '../../engine/api/routes-definitions.js';
import type { CompiledSaga } from '../../engine/core/index.js';
import type { EnginePort } from '../../engine/runtime/port.js';
import { body, isError, setup, type Json } from './api-harness.js';
import { sagas } from './store-engine.js';

/** GET /v1/definitions and /v1/definitions/{name} (and its /source): summaries, detail, versions by hash or its start. */
t.test('definitions: summaries with hashes, one in detail', async (t) => {
  const { app } = setup(t);
  const list = body(await app.inject({ url: '/v1/definitions' }));
  const [order, trip] = sagas;
  t.match(list.items, [
    {
      name: 'order-fulfillment', hash: order?.hash, description: String, trigger: { subject: 'orders.events', type: 'OrderPlaced' }, timeout: 600_000,
      steps: [{ name: 'reserve-inventory', kind: 'command' }, { name: 'charge-payment', kind: 'command' }, { name: 'ship-order', kind: 'command' }],
    },
    { name: 'trip-booking', hash: trip?.hash, steps: [{ name: 'book-travel', kind: 'parallel', branches: [['book-flight'], ['book-hotel']] }, { name: 'await-payment', kind: 'wait' }] },
  ]);

  const res = await app.inject({ url: '/v1/definitions/order-fulfillment' });
  t.equal(res.statusCode, 200);
  const detail = body(res);
  t.match(detail, {
    name: 'order-fulfillment', hash: order?.hash, key: '$input.orderId', schemas: ['InventoryReserved@1', 'OrderPlaced@1', 'ReserveInventory@1'],
  });
  const steps = detail.steps as Json[];
  t.match(steps[0], {
    name: 'reserve-inventory', kind: 'command', when: null, pivot: false, timeout: 5000,
    command: { subject: 'inventory.commands', type: 'ReserveInventory', version: 1 },
    reply: { subject: 'inventory.events', success: ['InventoryReserved'], failure: ['OutOfStock'], retryable: ['InventoryBusy'] },
    retry: { maxAttempts: 3, initialInterval: 500, backoffRate: 2, maxInterval: 10_000, jitter: 'full' },
    compensation: { command: { subject: 'inventory.commands', type: 'ReleaseInventory' }, reply: { success: ['InventoryReleased'] }, retry: { maxAttempts: 10 } },
  });
  t.match(steps[1], { compensation: { retry: { maxAttempts: null } } }, 'unlimited attempts are null');
  t.match(steps[2], { name: 'ship-order', pivot: true, afterPivot: true, compensation: null });

  const tripDetail = body(await app.inject({ url: '/v1/definitions/trip-booking' }));
  t.match((tripDetail.steps as Json[])[0], { kind: 'parallel', branches: [[{ name: 'book-flight', kind: 'command' }], [{ name: 'book-hotel', timeout: 60_000 }]] });
  t.match((tripDetail.steps as Json[])[1], { name: 'await-payment', kind: 'wait', subject: 'payments.events', type: 'PaymentConfirmed', match: /bookingId/, timeout: 3_600_000 });

  t.equal(body(await app.inject({ url: `/v1/definitions/order-fulfillment?hash=${order?.hash}` })).hash, order?.hash, 'a version by hash');
  isError(t, await app.inject({ url: `/v1/definitions/trip-booking?hash=${order?.hash}` }), 404, 'SAGA_ERR_UNKNOWN_SAGA');
  isError(t, await app.inject({ url: '/v1/definitions/nope' }), 404, 'SAGA_ERR_UNKNOWN_SAGA', 'no saga nope');
  // The lists show 12 characters of a hash: the start of one is enough, here and for the source.
  const short = order?.hash.slice(0, 12) ?? '';
  t.equal(body(await app.inject({ url: `/v1/definitions/order-fulfillment?hash=${short}` })).hash, order?.hash, 'a version by the start of its hash');
  t.equal(body(await app.inject({ url: `/v1/definitions/order-fulfillment/source?hash=${short}` })).hash, order?.hash, 'its source too');
  isError(t, await app.inject({ url: `/v1/definitions/trip-booking?hash=${short}` }), 404, 'SAGA_ERR_UNKNOWN_SAGA',
    `no definition of saga trip-booking with a hash that is or starts with ${short}`);
});

t.test('definitions: the start of a hash that fits two versions is refused with both', async (t) => {
  const v1 = { name: 'pay', hash: `abcdef01${'1'.repeat(56)}` } as CompiledSaga;
  const v2 = { name: 'pay', hash: `abcdef01${'2'.repeat(56)}` } as CompiledSaga;
  const engine = { definitions: () => [v2], definitionsOf: (name: string) => [v1, v2].filter((d) => d.name === name) } as unknown as EnginePort;
  t.equal(definitionAt(engine, 'pay', undefined), v2, 'no hash: the current one');
  t.equal(definitionAt(engine, 'pay', `abcdef011`), v1);
  t.equal(definitionAt(engine, 'pay', v2.hash), v2, 'the whole hash');
  t.throws(() => definitionAt(engine, 'pay', 'abcdef01'), {
    code: 'SAGA_ERR_VALIDATION', message: `hash abcdef01 is the start of 2 definitions of saga pay (${v1.hash}, ${v2.hash}): give more of it`,
  });
  t.throws(() => definitionAt(engine, 'other', 'abcdef01'), { code: 'SAGA_ERR_UNKNOWN_SAGA' }, 'another saga\'s versions do not count');
});
