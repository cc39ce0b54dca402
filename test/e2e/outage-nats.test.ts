import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { uuidv7 } from '../../engine/ids.js';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { ORDER_LOAD_DEFS, pool, startWorld } from './harness.js';
import { checkAll } from './load-check.js';
import { checkPublishedOnce } from './outage-check.js';

/**
 * nats-server stopped in the middle of the load and started again on the same port and
 * store: starts through the API are still accepted (they only need SQLite), the outbox relay's
 * publishes fail while the server is away, and afterwards every outbox row is published
 * exactly once, every saga finishes and no lifecycle event is missing from `sagas.events`.
 */
t.setTimeout(180_000);
const w = await startWorld(t, { definitions: ORDER_LOAD_DEFS });

const KINDS = ['', '~decline', '~busy2', '', '~shipreject', '~dropreserve'];
/** Log lines of the outbox relay about a failed publish. */
const publishFailures = () => w.sagad.logs().filter((l) => l.includes('"msg":"outbox relay failed') && l.includes('publish')).length;

t.test('an outage of nats-server mid-load loses nothing and sends nothing twice', async (t) => {
  const ids = Array.from({ length: 60 }, (_, i) => `outage-${i}`);
  const triggers = Array.from({ length: 20 }, (_, i) => `o-outage-trig-${i}${KINDS[i % KINDS.length] ?? ''}`);
  // A third of the starts before the outage, a third during it, a third after it.
  const startAll = (from: number, to: number) => pool(ids.slice(from, to), 3, async (id, i) => {
    for (;;) {
      const r = await w.api.start(order(`o-${id}${KINDS[(from + i) % KINDS.length] ?? ''}`), { id }).catch(() => null);
      if (r !== null && (r.status === 201 || r.status === 200)) {
        await delay(40);
        return;
      }
      await delay(50);
    }
  });
  // Trigger events are published by the test's own connection: during the outage it retries
  // with the same Nats-Msg-Id, so JetStream keeps one copy.
  const { js } = await w.link();
  const triggering = (async () => {
    for (const key of triggers) {
      const e = { eventId: uuidv7(), eventType: 'OrderPlaced', aggregateId: key, timestamp: new Date().toISOString(), version: 1, correlationId: `c-${key}`, causationId: null, payload: order(key) };
      for (;;) {
        try {
          await publishEnvelope(js, 'orders.events', encodeEnvelope(e), {}, e.eventId, { timeoutMs: 1_000 });
          break;
        } catch {
          await delay(100);
        }
      }
      await delay(60);
    }
  })();

  await startAll(0, 20);
  const failuresBefore = publishFailures();
  await w.nats.halt();
  // Starts need only SQLite: accepted while NATS is away, their commands wait in the outbox.
  const during = startAll(20, 40);
  t.ok(await Promise.race([during.then(() => true), delay(30_000, false)]), '20 starts were accepted during the outage');
  // Held down until a publish of the relay has failed for real (the PubAck did not come within its timeout).
  await waitFor(() => publishFailures() > failuresBefore, 30_000, { what: 'an outbox publish to fail during the outage' });
  t.ok(publishFailures() > failuresBefore, 'a publish failed while nats-server was down', w.diag());
  await w.nats.resume();
  await Promise.all([during, startAll(40, 60), triggering]);

  await waitFor(async () => {
    const all = await w.api.list();
    return all.length >= ids.length + triggers.length && all.every((i) => i.state === 'completed' || i.state === 'compensated' || i.state === 'failed');
  }, 90_000, { what: 'every saga to end', intervalMs: 250 });
  await checkAll(t, w, { ids, keys: triggers });
  await checkPublishedOnce(t, w);
});
