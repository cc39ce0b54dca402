import fc from 'fast-check';
import t from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { silentLog } from '../../engine/log.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import { engineOf, holds, nastyString } from './fuzz-helpers.js';

/**
 * Fuzzing NATS headers (issue 13, item 8): whatever headers a message carries, the message is
 * handled as its body says, a parked one keeps its headers as they came, and the API shows
 * them (list and one letter) without failing.
 */
const { store, engine } = engineOf(t);
const handle = inboundHandler(engine, engine.deps.store, silentLog);
const app = buildApi(engine, {});
t.teardown(() => app.close());

const headers = fc.dictionary(nastyString.filter((k) => k !== ''), nastyString, { maxKeys: 6 });
let seq = 0;

t.test('any headers on a message that cannot be processed are parked as they came and shown by the API', async (t) => {
  await holds(t, 'garbage with any headers', fc.tuple(headers, fc.uint8Array({ maxLength: 64 })), async ([h, body]) => {
    const data = Uint8Array.from([0x78, ...body]);
    const verdict = await handle({ subject: 'inventory.events', data, headers: h, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: ++seq });
    if (verdict !== 'ack') throw new Error(`verdict ${JSON.stringify(verdict)}`);
    const [newest] = store.listDead({ limit: 1 }).items;
    if (newest === undefined) throw new Error('not parked');
    if (JSON.stringify(newest.headers) !== JSON.stringify(h)) throw new Error(`headers changed: ${JSON.stringify(newest.headers)}`);
    const one = await app.inject({ url: `/v1/dlq/${newest.id}` });
    if (one.statusCode !== 200) throw new Error(`GET one: ${one.statusCode} ${one.body}`);
    const shown = one.json<{ headers: Record<string, string> }>().headers;
    if (JSON.stringify(shown) !== JSON.stringify(h)) throw new Error(`shown headers differ: ${JSON.stringify(shown)}`);
  });
  const list = await app.inject({ url: '/v1/dlq?limit=500' });
  t.equal(list.statusCode, 200, 'the list of all of them answers');
});

t.test('headers do not change what a valid envelope does', async (t) => {
  const r = await engine.start({ saga: 'order-fulfillment', input: { orderId: 'o-h', customerId: 'c', items: [{ sku: 's', quantity: 1 }], total: 1 } });
  await holds(t, 'a stray reply with any headers is acknowledged and changes nothing', headers, async (h) => {
    const data = new TextEncoder().encode(JSON.stringify({
      eventId: `stray-${++seq}`, eventType: 'InventoryReserved', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId: 'c', causationId: 'unknown', payload: {},
    }));
    const verdict = await handle({ subject: 'inventory.events', data, headers: h, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: ++seq });
    if (verdict !== 'ack') throw new Error(`verdict ${JSON.stringify(verdict)}`);
  }, 60);
  t.equal(store.getInstance(r.state.id)?.version, r.state.version, 'the instance did not move');
});
