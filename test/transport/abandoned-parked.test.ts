/**
 * sagad's consumers redeliver without limit and sagad counts the attempts (docs/operations.md,
 * Deliveries): a message delivered more than SAGA_MAX_DELIVER + 3 times was never finished, and
 * the running server parks it in the dead-letter queue without handling it again.
 */
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../engine/config.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { startSagad } from '../../engine/main.js';
import { connectNats } from '../../engine/transport/connection.js';
import { durableNameFor } from '../../engine/transport/consumer.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';
import { sagaYaml, writeDefinitions } from '../reload/defs.js';

t.test('a message delivered past SAGA_MAX_DELIVER + 3 (its attempts never finished) is parked by the server, unhandled', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const file = writeDefinitions(dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1'])]);
  const defs = loadDefinitionsFile(file);
  if (!defs.ok) throw new Error('definitions invalid');
  const config = loadConfig({ SAGA_DEFINITIONS: file, SAGA_DB: join(dir, 'sagad.db'), NATS_URL: nats.url, SAGA_HTTP_PORT: '0', SAGA_MAX_DELIVER: '1' });
  // A first run sets up the stream and the durable consumer of al.events.
  await (await startSagad(config, defs.sagas, silentLog)).stop();

  const link = await connectNats({ url: nats.url });
  t.teardown(() => link.close());
  const start = { eventId: 'ev-stuck', eventType: 'Begin', aggregateId: 'o-1', timestamp: new Date().toISOString(), version: 1, correlationId: 'c-1', payload: { order: 'o-1' } };
  await link.js.publish('al.events', JSON.stringify(start));
  // Four deliveries that were never finished, as by a sagad that crashed in each.
  const consumer = await link.js.consumers.get('AL', durableNameFor(config.natsPrefix, 'al.events'));
  for (let i = 1; i <= 4; i++) {
    const m = await consumer.next({ expires: 5_000 });
    if (m === null) throw new Error(`delivery ${i} did not come`);
    t.equal(m.info.deliveryCount, i);
    m.nak();
  }

  const server = await startSagad(config, defs.sagas, silentLog);
  t.teardown(() => server.stop());
  const dlq = async () => (await (await fetch(`${server.httpUrl}/v1/dlq`)).json()) as { items: { subject: string; reason: string }[] };
  await until(async () => (await dlq()).items.length > 0, 'the dead letter', { withinMs: 15_000, everyMs: 50 });
  t.match((await dlq()).items, [{ subject: 'al.events', reason: /^delivered 5 times and its handling never finished/ }], 'the fifth delivery is parked');
  const list = (await (await fetch(`${server.httpUrl}/v1/instances`)).json()) as { items: unknown[] };
  t.same(list.items, [], 'it was not handled: the trigger started nothing');
});
