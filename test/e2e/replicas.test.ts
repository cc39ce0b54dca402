import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { uuidv7 } from '../../engine/ids.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { waitFor } from '../helpers/sagad.js';
import { order, type Summary } from './api-client.js';
import { pool } from './harness.js';
import { checkAll, listed } from './load-check.js';
import { startReplicaWorld } from './replica-world.js';

/**
 * Replicas (issue 9): three sagad processes on one PostgreSQL and one nats-server. Sagas are
 * started through all of them, by the API and by trigger events, with failures at each step,
 * retries and timeouts, while one replica after another is killed with SIGKILL and started
 * again. Then every saga ends completed or compensated, each effect happened once and every
 * compensation ran (the participant's ledger), and nothing is left in the outbox or the timers.
 * How long the in-flight sagas took to move on after each kill is reported (not asserted).
 */
t.setTimeout(420_000);
const w = await startReplicaWorld(t, 3);

/** Waits until every instance of `inFlight` moved on (changed, or ended) after the kill: ms from the kill. */
async function resumeAfter(killedAt: number, inFlight: readonly Summary[]): Promise<number> {
  const waiting = new Set(inFlight.map((s) => s.id));
  await waitFor(async () => {
    const all = await w.api.list().catch(() => null) as (Summary & { updatedAt: string })[] | null;
    if (all === null) return false;
    for (const s of all) {
      if (waiting.has(s.id) && ((s.state !== 'running' && s.state !== 'compensating') || Date.parse(s.updatedAt) > killedAt)) waiting.delete(s.id);
    }
    return waiting.size === 0;
  }, 60_000, { what: 'the sagas in flight at the kill to move on', intervalMs: 50 });
  return Date.now() - killedAt;
}

t.test('three replicas, kill -9 of one at a time, three times, under load', async (t) => {
  const kinds = ['', '~decline', '', '~busy2', '', '~dropreserve', '', '~busy1~dropreserve', ''];
  const ids = Array.from({ length: 360 }, (_, i) => `rep-${i}`);
  const orderOf = (i: number) => `o-rep-${i}${kinds[i % kinds.length] ?? ''}`;
  const triggerOrders = Array.from({ length: 60 }, (_, i) => `o-rtrig-${i}${i % 6 === 0 ? '~decline' : ''}`);
  const accepted = new Set<string>();
  // Each start goes to the next replica; a refused or failed call tries the next one, with the same id.
  const starting = pool(ids, 3, async (id, i) => {
    for (let n = i; ; n++) {
      try {
        const r = await w.apis[n % w.apis.length]!.start(order(orderOf(i)), { id });
        if (r.status === 201 || r.status === 200) {
          accepted.add(id);
          await delay(120);
          return;
        }
      } catch {
        // that replica is down: the next one
      }
      await delay(20);
    }
  });
  const { js } = await w.link();
  let published = 0;
  const triggering = (async () => {
    for (const orderId of triggerOrders) {
      const e = { eventId: uuidv7(), eventType: 'OrderPlaced', aggregateId: orderId, timestamp: new Date().toISOString(), version: 1, correlationId: `c-${orderId}`, causationId: null, payload: order(orderId) };
      await publishEnvelope(js, 'orders.events', encodeEnvelope(e), {}, e.eventId);
      published++;
      await delay(250);
    }
  })();

  const total = ids.length + triggerOrders.length;
  const kills: { replica: number; inFlight: number; resumedMs: number }[] = [];
  for (let round = 0; round < 3; round++) {
    await waitFor(() => accepted.size + published >= Math.round(total * (0.1 + 0.25 * round)), 120_000, { what: `starts before kill ${round + 1}` });
    const victim = round % 3;
    const live = w.apis[(victim + 1) % 3]!;
    // Killed while plain orders are in flight, so that there is something to resume.
    const running = await waitFor(async () => {
      const plain = (await live.list({ state: 'running' })).filter((s) => s.key !== null && !s.key.includes('~'));
      return plain.length > 0 ? plain : null;
    }, 30_000, { what: `plain orders in flight before kill ${round + 1}`, intervalMs: 10 });
    const killedAt = Date.now();
    await w.kill9(victim);
    const resumedMs = await resumeAfter(killedAt, running);
    kills.push({ replica: victim, inFlight: running.length, resumedMs });
    await w.restart(victim);
  }
  await starting;
  await triggering;
  t.ok(kills.every((k) => k.inFlight > 0), 'every kill hit sagas in flight', { kills });
  t.comment(`resume after kill -9 of one of three replicas (ms): ${kills.map((k) => k.resumedMs).join(', ')}`);

  await waitFor(async () => {
    const all = [...(await listed(w)).values()];
    return all.length >= total && all.every((i) => i.state === 'completed' || i.state === 'compensated' || i.state === 'failed');
  }, 240_000, { what: 'every saga to end', intervalMs: 250 });
  const docs = await checkAll(t, w, { ids: [...accepted], keys: triggerOrders }, { kills });
  t.equal(accepted.size, ids.length, 'every API start was eventually accepted');
  const states = (pick: (key: string) => boolean) => new Set([...docs.values()].filter((d) => d.key !== null && pick(d.key)).map((d) => d.state));
  t.same(states((k) => k.includes('~decline')), new Set(['compensated']), 'declined payments compensated', w.diag({ kills }));
  t.same(states((k) => !k.includes('~')), new Set(['completed']), 'plain orders completed', w.diag({ kills }));
  // One start by key sent to all three replicas at once: one instance, the same for every caller.
  const same = await Promise.all(w.apis.map((api, i) => api.start(order('o-rep-same'), { id: `same-${i}` })));
  t.same(new Set(same.map((r) => (r.body as { id: string }).id)).size, 1, 'a start by key is idempotent across replicas');
  t.same(same.map((r) => r.status).sort(), [200, 200, 201], 'one created it, the others found it');
  // Every replica answers the same about every instance.
  const some = [...docs.keys()].slice(0, 20);
  for (const api of w.apis) {
    const seen = await Promise.all(some.map((id) => api.instance(id)));
    t.same(seen.map((d) => d.state), some.map((id) => docs.get(id)?.state), 'each replica sees every instance');
  }
});
