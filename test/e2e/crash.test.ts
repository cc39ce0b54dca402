import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { ORDER_LOAD_DEFS, pool, startWorld } from './harness.js';
import { checkAll, listed } from './load-check.js';

/**
 * Crash safety (DESIGN section 1, point 4): about 300 sagas, started through the API and by
 * trigger events, while sagad is killed with SIGKILL three times at random moments and
 * restarted on the same database and NATS. Then nothing is lost, nothing is left running,
 * and the participant's ledger shows each step done at most once and undone in reverse.
 */
t.setTimeout(300_000);
const w = await startWorld(t, { definitions: ORDER_LOAD_DEFS });

t.test('kill -9 three times while ~300 sagas are in flight', async (t) => {
  const apiKinds = ['', '~decline', '~busy2', '~dropreserve', '', '~busy1~dropreserve'];
  const ids = Array.from({ length: 250 }, (_, i) => `crash-${i}`);
  const triggerOrders = Array.from({ length: 50 }, (_, i) => `o-trig-${i}${i % 5 === 0 ? '~decline' : ''}`);
  const orderOf = (i: number) => `o-crash-${i}${apiKinds[i % apiKinds.length] ?? ''}`;

  // Starts are paced over several seconds so that work is always in flight, and retried through
  // the kills with the same id, so a start accepted before a kill is not repeated.
  const accepted = new Set<string>();
  const starting = pool(ids, 4, async (id, i) => {
    for (;;) {
      try {
        const r = await w.api.start(order(orderOf(i)), { id });
        if (r.status === 201 || r.status === 200) {
          accepted.add(id);
          await delay(80);
          return;
        }
      } catch {
        // sagad is down: try again once it is back
      }
      await delay(50);
    }
  });
  const { js } = await w.link();
  let published = 0;
  const triggering = (async () => {
    for (const orderId of triggerOrders) {
      const e = { eventId: uuidv7(), eventType: 'OrderPlaced', aggregateId: orderId, timestamp: new Date().toISOString(), version: 1, correlationId: `c-${orderId}`, causationId: null, payload: order(orderId) };
      await publishEnvelope(js, 'orders.events', encodeEnvelope(e), {}, e.eventId);
      published++;
      await delay(100);
    }
  })();

  // Each kill comes at a random point of the starts, a little later still, so it lands while
  // work is in flight: mid-start, mid-step, mid-compensation, with replies and timers pending.
  const total = ids.length + triggerOrders.length;
  const kills: { round: number; startedTarget: number; inFlight: number | string }[] = [];
  for (let round = 1; round <= 3; round++) {
    const startedTarget = Math.round(total * (0.25 * round - 0.15 + Math.random() * 0.15));
    await waitFor(() => accepted.size + published >= startedTarget, 60_000, { what: `${startedTarget} starts before kill ${round}` });
    await delay(Math.random() * 200);
    let inFlight: number | string;
    try {
      inFlight = [...(await listed(w)).values()].filter((i) => i.state === 'running' || i.state === 'compensating').length;
    } catch (err) {
      inFlight = String(err);
    }
    await w.sagad.kill9();
    kills.push({ round, startedTarget, inFlight });
    await w.restartSagad();
  }
  await starting;
  await triggering;
  t.ok(kills.every((k) => typeof k.inFlight === 'number' && k.inFlight > 0), 'every kill hit sagas in flight', { kills });

  await waitFor(async () => {
    const all = [...(await listed(w)).values()];
    return all.length >= ids.length + triggerOrders.length && all.every((i) => i.state === 'completed' || i.state === 'compensated' || i.state === 'failed');
  }, 180_000, { what: 'every saga to end', intervalMs: 250 });

  const docs = await checkAll(t, w, { ids: [...accepted], keys: triggerOrders }, { kills });
  t.equal(accepted.size, ids.length, 'every API start was eventually accepted');
  const states = (pick: (key: string) => boolean) => new Set([...docs.values()].filter((d) => d.key !== null && pick(d.key)).map((d) => d.state));
  t.same(states((k) => k.includes('~decline')), new Set(['compensated']), 'declined payments compensated', w.diag({ kills }));
  t.same(states((k) => !k.includes('~')), new Set(['completed']), 'plain orders completed', w.diag({ kills }));
});
