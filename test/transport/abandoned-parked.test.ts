/**
 * sagad's consumers redeliver without limit and sagad counts the attempts (docs/operations.md,
 * Deliveries): a message delivered more than SAGA_MAX_DELIVER + 3 times was never finished, and
 * the running server parks it in the dead-letter queue without handling it again.
 */
import t from 'tap';
import { connectNats } from '../../engine/transport/connection.js';
import { durableNameFor } from '../../engine/transport/consumer.js';
import { inProcessWorld } from '../helpers/in-process-sagad.js';
import { until } from '../helpers/until.js';
import { sagaYaml } from '../reload/defs.js';

t.test('a message delivered past SAGA_MAX_DELIVER + 3 (its attempts never finished) is parked by the server, unhandled', async (t) => {
  const w = await inProcessWorld(t, [sagaYaml('alpha', 'al', ['a1'])], { SAGA_MAX_DELIVER: '1' });
  // A first run sets up the stream and the durable consumer of al.events.
  await (await w.start()).stop();

  const link = await connectNats({ url: w.nats.url });
  t.teardown(() => link.close());
  const start = { eventId: 'ev-stuck', eventType: 'Begin', aggregateId: 'o-1', timestamp: new Date().toISOString(), version: 1, correlationId: 'c-1', payload: { order: 'o-1' } };
  await link.js.publish('al.events', JSON.stringify(start));
  // Four deliveries that were never finished, as by a sagad that crashed in each.
  const consumer = await link.js.consumers.get('AL', durableNameFor(w.config.natsPrefix, 'al.events'));
  for (let i = 1; i <= 4; i++) {
    const m = await consumer.next({ expires: 5_000 });
    if (m === null) throw new Error(`delivery ${i} did not come`);
    t.equal(m.info.deliveryCount, i);
    m.nak();
  }

  const server = await w.start();
  const dlq = async () => (await (await fetch(`${server.httpUrl}/v1/dlq`)).json()) as { items: { subject: string; reason: string }[] };
  await until(async () => (await dlq()).items.length > 0, 'the dead letter', { withinMs: 15_000, everyMs: 50 });
  t.match((await dlq()).items, [{ subject: 'al.events', reason: /^delivered 5 times and its handling never finished/ }], 'the fifth delivery is parked');
  const list = (await (await fetch(`${server.httpUrl}/v1/instances`)).json()) as { items: unknown[] };
  t.same(list.items, [], 'it was not handled: the trigger started nothing');
});
