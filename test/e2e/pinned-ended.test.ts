import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { fixtureVariant, startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { sound, types } from './kinds.js';

/**
 * Every instance that can still take an input keeps its definition across a definitions
 * change and a restart (DESIGN section 1, point 7; issue 12), not only running and
 * compensating ones: a `failed` instance can be retried, and a late success for a
 * `compensated` instance is compensated. The new file moves the payments replies from
 * `payments.events` (where the participant answers) to `payments.replies`, so only the
 * pinned definitions still consume the old subject.
 */
let defsFile = '';
const w = await startWorld(t, { definitions: (dir) => (defsFile = fixtureVariant(dir, 'order.yaml', [])) });

t.test('a failed instance is retried and a late success reopens a compensated one after the definitions changed', async (t) => {
  // The refund fails until its flag exists: the instance ends failed.
  const failing = 'o-pe-1~refundfail~shipreject';
  // Charge attempt 1 answers 15 s late; attempt 2 is declined: the instance ends compensated first.
  const late = 'o-pe-2~slowcharge15000~declineretry';
  const [f, c] = await Promise.all([w.api.started(order(failing)), w.api.started(order(late))]);
  t.equal((await w.api.settled(f.id, 20_000)).state, 'failed', 'the refund ran out of attempts', w.diag());
  t.equal((await w.api.settled(c.id, 20_000)).state, 'compensated', 'compensated once the decline counted', w.diag());
  t.equal(await w.sagad.stop(), 0, 'stopped cleanly, before the late success arrives');

  const before = readFileSync(defsFile, 'utf8');
  const moved = before.replaceAll('subject: payments.events', 'subject: payments.replies');
  t.not(moved, before, 'the new definitions file moves the payments replies');
  writeFileSync(defsFile, moved);
  await w.restartSagad();
  const current = (await w.api.req<{ items: { name: string; hash: string }[] }>('GET', '/v1/definitions')).body.items.find((d) => d.name === 'order-fulfillment')?.hash;
  t.not(current, f.definitionHash, 'sagad now runs another definition');

  // The late success, consumed from the old subject only through the pinned definition, is compensated.
  const reopened = await waitFor(async () => {
    const d = await w.api.instance(c.id);
    return d.state === 'compensated' && d.steps[1]?.compensation?.state === 'compensated' ? d : undefined;
  }, 30_000, { what: 'the late charge to be refunded' }).catch(async () => w.api.instance(c.id));
  const history = await w.api.history(c.id);
  t.ok(types(history).includes('LateSuccessRecorded'), 'the late success was taken in, not dead-lettered', w.diag({ history: types(history) }));
  t.equal(reopened.steps[1]?.compensation?.state, 'compensated', 'and the late charge refunded', w.diag());
  t.equal(reopened.definitionHash, c.definitionHash, 'still pinned to the definition it started with');
  t.same(realEffects(w.ledger(), c.id).filter(([, side]) => side === 'undo'), [['reserve-inventory', 'undo', 'done'], ['charge-payment', 'undo', 'done']]);
  sound(t, w, sagaViolations(reopened, history, w.ledger()));
  const letters = (await w.api.req<{ items: { subject: string; reason: string }[] }>('GET', '/v1/dlq')).body.items;
  t.same(letters, [], 'nothing was dead-lettered');

  // The failed instance, retried, refunds through the pinned definition's reply subject.
  w.flag(failing, 'refund');
  const retried = await w.api.retry(f.id);
  t.equal(retried.status, 200, 'the retry is accepted', w.diag({ body: retried.body }));
  const doc = await w.api.settled(f.id, 20_000, ['compensated']).catch(async () => w.api.instance(f.id));
  t.equal(doc.state, 'compensated', 'compensated after the retry', w.diag());
  t.equal(doc.definitionHash, f.definitionHash, 'still pinned to the definition it started with');
  t.same(realEffects(w.ledger(), f.id).filter(([, side]) => side === 'undo'), [['charge-payment', 'undo', 'done'], ['reserve-inventory', 'undo', 'done']]);
  sound(t, w, sagaViolations(doc, await w.api.history(f.id), w.ledger()));
});
