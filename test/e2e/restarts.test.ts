import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { parseEnvelope } from '../../engine/transport/envelope.js';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { fixtureVariant, startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';

/**
 * What survives a restart: a saga deadline that fell due while sagad was down fires once
 * it is back (DESIGN section 1, point 6), and a running instance keeps the definition
 * it started with after the file changed (point 7).
 */
const SAGA_TIMEOUT_MS = 3_000;
let defsFile = '';
const w = await startWorld(t, {
  definitions: (dir) => (defsFile = fixtureVariant(dir, 'order.yaml', [['    timeout: 10m', `    timeout: ${SAGA_TIMEOUT_MS / 1000}s`]])),
});

const stepOf = async (id: string, name: string) => (await w.api.instance(id)).steps.find((s) => s.name === name);

t.test('a saga deadline that falls due while sagad is down fires once sagad is back', async (t) => {
  const { id } = await w.api.started(order('o-deadline~holdcharge'));
  const startedAt = Date.now();
  await waitFor(async () => ['running', 'retrying'].includes((await stepOf(id, 'charge-payment'))?.state ?? ''), 10_000, { what: 'the charge to be sent' });
  await w.sagad.kill9();
  await delay(Math.max(0, startedAt + SAGA_TIMEOUT_MS + 500 - Date.now()));
  await w.restartSagad();
  // Settling, with the deadline as the reason (checked below), shows the restarted sagad
  // fired the timer that fell due while it was down; how soon is for the bench to measure.
  const doc = await w.api.settled(id);
  t.equal(doc.state, 'compensated', 'compensated', w.diag());
  const history = await w.api.history(id);
  t.match(history.find((h) => h.type === 'CompensationStarted')?.data, { reason: { kind: 'deadline' } }, 'because of the deadline');
  t.same(realEffects(w.ledger(), id), [
    ['reserve-inventory', 'do', 'done'], ['charge-payment', 'undo', 'nothing-to-undo'], ['reserve-inventory', 'undo', 'done'],
  ]);
  t.same(sagaViolations(doc, history, w.ledger()), [], 'saga guarantee', w.diag());
});

t.test('a running instance keeps its definition after the file changes and sagad restarts', async (t) => {
  const { nc } = await w.link();
  const shipments: { sagaId: string; payload: Record<string, unknown> }[] = [];
  const sub = nc.subscribe('shipping.commands', {
    callback: (_err, m) => {
      const e = parseEnvelope(m.data);
      if (e.ok) shipments.push({ sagaId: m.headers?.get('Saga-Id') ?? '', payload: e.envelope.payload });
    },
  });
  t.teardown(() => sub.unsubscribe());
  await nc.flush();

  const orderId = 'o-pinned~holdship';
  const old = await w.api.started(order(orderId));
  await waitFor(async () => ['running', 'retrying'].includes((await stepOf(old.id, 'ship-order'))?.state ?? ''), 10_000, { what: 'the shipment to be sent' });
  t.equal(await w.sagad.stop(), 0, 'stopped cleanly');

  // Version 2 ships express; the running instance must go on shipping as version 1 said.
  writeFileSync(defsFile, readFileSync(defsFile, 'utf8')
    .replace('            address: "{% $input.shippingAddress %}"', '            address: "{% $input.shippingAddress %}"\n            priority: express'));
  await w.restartSagad();
  const defs = await w.api.req<{ items: { name: string; hash: string }[] }>('GET', '/v1/definitions');
  const current = defs.body.items.find((d) => d.name === 'order-fulfillment')?.hash;
  t.not(current, old.definitionHash, 'the file now holds another definition');
  t.equal((await w.api.instance(old.id)).definitionHash, old.definitionHash, 'the running instance is still pinned to its own');

  const fresh = await w.api.started(order('o-pinned-new'));
  t.equal(fresh.definitionHash, current, 'a new instance takes the new definition');
  t.equal((await w.api.settled(fresh.id)).state, 'completed', 'and completes', w.diag());

  w.flag(orderId, 'ship');
  const doc = await w.api.settled(old.id);
  t.equal(doc.state, 'completed', 'the old instance completes', w.diag());
  const oldShipments = shipments.filter((s) => s.sagaId === old.id);
  t.ok(oldShipments.length >= 2, 'its shipment was sent before and after the restart');
  t.same(oldShipments.filter((s) => 'priority' in s.payload), [], 'always as its own definition says', { oldShipments });
  t.match(shipments.find((s) => s.sagaId === fresh.id)?.payload, { priority: 'express' }, 'the new instance ships express');
  t.same(sagaViolations(doc, await w.api.history(old.id), w.ledger()), [], 'saga guarantee', w.diag());
});
