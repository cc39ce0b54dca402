/**
 * A start repeated by id after a reload removed its saga: the instance exists and still runs
 * under its stored definition, so the client is answered with it (200), not told that the saga
 * is unknown (404) as if its accepted start had never happened.
 */
import t from 'tap';
import { rig } from './engine-rig.js';

const yaml = `
version: 1
sagas:
  - name: order
    defaults: { timeout: 1h }
    steps:
      - name: ship
        pivot: true
        command: { subject: shipping.commands, type: Ship }
        reply: { subject: shipping.events, success: [Shipped] }
`;

t.test('a start repeated by id after a reload removed the saga finds the instance; a new id is refused', async (t) => {
  const r = rig(t, yaml);
  const first = await r.engine.start({ saga: 'order', input: {}, id: 'o-1' });
  t.equal(first.created, true);
  r.engine.deps.registry.replace([]);
  const again = await r.engine.start({ saga: 'order', input: {}, id: 'o-1' });
  t.same([again.created, again.state.id, again.state.status], [false, 'o-1', 'running'], 'the instance that exists');
  await t.rejects(r.engine.start({ saga: 'order', input: {}, id: 'o-2' }), { code: 'SAGA_ERR_UNKNOWN_SAGA' }, 'a new instance of a saga no longer loaded');
  await t.rejects(r.engine.start({ saga: 'other', input: {}, id: 'o-1' }), { code: 'SAGA_ERR_INVALID_STATE' }, 'the id taken by another saga');
});
