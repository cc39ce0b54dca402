import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { order } from './api-client.js';
import { fixtureVariant, startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { sound, stepReaches } from './kinds.js';

/**
 * A running instance keeps its definition (DESIGN section 1, point 7) even when the new one
 * moves a reply subject: instances waiting for their shipment are left running, sagad restarts
 * with ship-order's replies on `shipping.replies` instead of `shipping.events`, and the old
 * instances still take their replies from `shipping.events` and complete.
 */
let defsFile = '';
const w = await startWorld(t, { definitions: (dir) => (defsFile = fixtureVariant(dir, 'order.yaml', [])) });

t.test('instances pinned to a definition whose reply subject changed still get their replies and finish', async (t) => {
  const orders = ['o-pin-1~holdship', 'o-pin-2~holdship'];
  const started = await Promise.all(orders.map((o) => w.api.started(order(o))));
  for (const s of started) await stepReaches(w, s.id, 'ship-order');
  t.equal(await w.sagad.stop(), 0, 'stopped cleanly');

  const before = readFileSync(defsFile, 'utf8');
  const moved = before.replace('          subject: shipping.events', '          subject: shipping.replies');
  t.not(moved, before, 'the new definitions file moves the shipment replies');
  writeFileSync(defsFile, moved);
  await w.restartSagad();
  const current = (await w.api.req<{ items: { name: string; hash: string }[] }>('GET', '/v1/definitions')).body.items.find((d) => d.name === 'order-fulfillment')?.hash;
  t.not(current, started[0]?.definitionHash, 'sagad now runs another definition');

  for (const o of orders) w.flag(o, 'ship');
  for (const s of started) {
    const doc = await w.api.settled(s.id);
    t.equal(doc.state, 'completed', `${s.key ?? s.id} completes on the old subject`, w.diag());
    t.equal(doc.definitionHash, s.definitionHash, 'still pinned to the definition it started with');
    t.same(realEffects(w.ledger(), s.id), [['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['ship-order', 'do', 'done']]);
    sound(t, w, sagaViolations(doc, await w.api.history(s.id), w.ledger()));
  }
});
