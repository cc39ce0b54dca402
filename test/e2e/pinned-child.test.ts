import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { order } from './api-client.js';
import { FIXTURES, fixtureVariant, startWorld } from './harness.js';
import { realEffects } from './invariants.js';
import { stepReaches } from './kinds.js';

/**
 * The wiring of Engine's onPinned in main.ts, end to end: at start sagad consumes the subjects
 * of the definitions its unfinished instances run, and a completed child saga is not among
 * them. Here the child (charge-child, fixtures/delay-child.yaml) completed, its parent waits
 * for its shipment, and sagad restarts on a file whose sagas all take payment replies on
 * `payments.replies` instead of `payments.events`. The rejected shipment then compensates the
 * child with its own, older definition, whose refund is answered on `payments.events`: that
 * subject is consumed once the definition is compiled again, so the refund's reply arrives
 * and the child ends compensated, not compensation_failed after its retries.
 */
let defsFile = '';
const w = await startWorld(t, { definitions: (dir) => (defsFile = fixtureVariant(dir, 'delay-child.yaml', [], join(FIXTURES, 'delay-child.yaml'))) });

t.test('a completed child compensated after a restart on changed subjects gets its refund reply', async (t) => {
  const orderId = 'o-pinned-child~holdship~shipreject';
  const r = await w.api.req<{ id: string }>('POST', '/v1/sagas/parent-order/instances', { input: order(orderId) });
  t.equal(r.status, 201, 'the parent starts', { body: r.body });
  const parentId = r.body.id;
  const childId = `${parentId}.pay.1`;
  t.equal((await w.api.settled(childId)).state, 'completed', 'the child completes', w.diag());
  await stepReaches(w, parentId, 'ship-order');
  t.equal(await w.sagad.stop(), 0, 'stopped cleanly');

  const before = readFileSync(defsFile, 'utf8');
  const moved = before.replaceAll('subject: payments.events', 'subject: payments.replies');
  t.not(moved, before, 'the new file takes payment replies on another subject');
  writeFileSync(defsFile, moved);
  await w.restartSagad();

  w.flag(orderId, 'ship');
  const parent = await w.api.settled(parentId);
  t.equal(parent.state, 'compensated', 'the rejected shipment compensates the parent', w.diag());
  const child = await w.api.instance(childId);
  t.equal(child.state, 'compensated', 'its child is refunded on its old reply subject', w.diag());
  t.same(realEffects(w.ledger(), childId), [['charge-payment', 'do', 'done'], ['charge-payment', 'undo', 'done']], 'charged and refunded once');
});
