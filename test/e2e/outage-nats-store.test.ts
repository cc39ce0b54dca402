import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { startWorld } from './harness.js';

/**
 * nats-server restarted with an empty JetStream store (a lost volume, a new cluster): every
 * stream, durable consumer and the lease bucket are gone. The SQLite sagad takes its lease
 * again (nobody else holds it), sets its streams up again when a consumer or a publish finds
 * one missing, and goes on: a saga started afterwards completes, and /readyz is ready again.
 */
t.setTimeout(180_000);
const w = await startWorld(t);

t.test('NATS restarted without its JetStream store: the lease and the streams are set up again, and sagas run on', async (t) => {
  await w.api.started(order('o-before'), { id: 'before' });
  await waitFor(async () => (await w.api.instance('before')).state === 'completed' || undefined, 30_000, { what: 'the first saga to complete' });
  await w.nats.restartEmpty();
  await waitFor(() => w.sagad.logs().some((l) => l.includes('the streams are set up again')) || undefined, 30_000, { what: 'the streams to be set up again' }).catch((err: unknown) => { t.fail(String(err), w.diag()); throw err; });
  // The test's participants (not sagad) back off up to 10 s a pull while their streams are
  // missing: the saga starts once their consumers are back, or its steps could run out of
  // attempts first (20 of 600 ms).
  const { jsm } = await w.link();
  const participantsBack = async () => {
    for (const [stream, durable] of [['INVENTORY', 'e2e-inventory_commands'], ['PAYMENTS', 'e2e-payments_commands'], ['SHIPPING', 'e2e-shipping_commands']] as const) {
      if (await jsm.consumers.info(stream, durable).then(() => false, () => true)) return undefined;
    }
    return true;
  };
  await waitFor(participantsBack, 60_000, { what: 'the participants to consume again', intervalMs: 200 });
  await w.api.started(order('o-after'), { id: 'after' });
  await waitFor(async () => (await w.api.instance('after')).state === 'completed' || undefined, 60_000, { what: 'a saga started afterwards to complete' })
    .catch((err: unknown) => { t.fail(String(err), w.diag()); throw err; });
  t.pass('a saga started after the loss completed');
  t.ok(w.sagad.logs().some((l) => l.includes('the lease is taken again')), 'the lease was taken again, not lost', w.diag());
  const ready = await fetch(`${w.sagad.url}/readyz`);
  t.equal(ready.status, 200, 'ready');
  t.notOk(w.sagad.logs().some((l) => l.includes('stopping, since two processes must not consume')), 'sagad did not give up', w.diag());
});
