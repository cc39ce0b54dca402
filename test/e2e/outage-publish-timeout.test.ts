import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { ORDER_LOAD_DEFS, pool, startWorld } from './harness.js';
import { checkAll } from './load-check.js';
import { checkPublishedOnce, storedMessages } from './outage-check.js';

/**
 * JetStream stops answering publishes to one stream (SHIPPING set to `no_ack`: it stores what
 * it gets, and says nothing): the relay's PubAck timeout fires for real, the rows stay unsent
 * and are published again under the same Nats-Msg-Id until JetStream answers again. Then every
 * row is marked sent, and each shipment is stored, and done, once.
 */
t.setTimeout(120_000);
const w = await startWorld(t, { definitions: ORDER_LOAD_DEFS });
const logged = (text: string) => w.sagad.logs().filter((l) => l.includes(text)).length;

t.test('publishes that JetStream does not answer time out, are retried with their ids, and are sent once', async (t) => {
  const { jsm } = await w.link();
  const info = await jsm.streams.info('SHIPPING');
  await jsm.streams.update('SHIPPING', { ...info.config, no_ack: true });
  const ids = Array.from({ length: 12 }, (_, i) => `silent-${i}`);
  await pool(ids, 4, (id, i) => w.api.started(order(`o-${id}${i % 4 === 3 ? '~shipreject' : ''}`), { id }));

  await waitFor(() => logged('"msg":"outbox relay failed') > 0, 30_000, { what: 'a publish to time out' });
  const timeout = w.sagad.logs().find((l) => l.includes('"msg":"outbox relay failed'));
  t.match(timeout, /no PubAck for a publish to shipping\.commands within \d+ ms/, 'the PubAck timeout fired', w.diag());
  t.ok(await w.api.metric('sagad_outbox_backlog') > 0, 'the unanswered rows are not marked sent');
  const storedEarly = (await storedMessages(jsm, 'SHIPPING')).filter((m) => m.subject === 'shipping.commands');
  t.ok(storedEarly.length > 0, 'yet JetStream stored them: only its answer was missing');

  await jsm.streams.update('SHIPPING', { ...info.config, no_ack: false });
  await waitFor(async () => {
    const all = await w.api.list();
    return all.length === ids.length && all.every((i) => i.state === 'completed' || i.state === 'compensated' || i.state === 'failed')
      && (await w.api.metric('sagad_outbox_backlog')) === 0;
  }, 60_000, { what: 'every saga to end and the outbox to drain', intervalMs: 250 });
  await checkAll(t, w, { ids, keys: [] });
  await checkPublishedOnce(t, w);
});
