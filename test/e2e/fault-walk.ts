import { setTimeout as delay } from 'node:timers/promises';
import type { Test } from 'tap';
import type { FaultPoint } from '../../engine/fault.js';
import { uuidv7 } from '../../engine/ids.js';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import type { Envelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { startSagad, waitFor } from '../helpers/sagad.js';
import { order, SAGA } from './api-client.js';
import { ORDER_LOAD_DEFS, pool, startWorld } from './harness.js';
import type { World } from './harness.js';
import { checkAll } from './load-check.js';
import { checkPublishedOnce } from './outage-check.js';

/**
 * The deterministic crash walk (DESIGN section 1, point 4): for one fault point, sagad runs
 * with `SAGA_FAULT=<point>:<pass>` under a mixed load (API starts, trigger events, starts over
 * NATS, poison messages) until it kills itself there; it is restarted without the fault, the
 * load is finished, and the guarantee is checked for every instance against the
 * participant's ledger and what it received, and against what the streams hold.
 *
 * Every point of engine/fault.ts belongs to exactly one group; each group is one test
 * file (fault-<group>.test.ts) with a world of its own, so tap walks the groups in parallel.
 */
export const FAULT_GROUPS: Record<string, readonly (readonly [FaultPoint, number])[]> = {
  inputs: [['after-commit-before-ack', 25], ['mid-group-commit', 3], ['after-park-before-ack', 2]],
  outbox: [['after-commit-before-publish', 25], ['after-publish-before-mark', 8]],
  timers: [['after-timer-commit', 3], ['after-start-commit-before-reply', 3]],
  // Walked by fault-retention.test.ts its own way: retention needs finished instances, not load.
  retention: [['after-archive-before-delete', 2]],
};

/** Order kinds: plain, declined (compensates), retried after busy replies (timers), a lost reply (timeout), a rejected pivot (two compensations). */
const KINDS = ['', '~decline', '~busy2', '~dropreserve', '', '~shipreject', '~busy1~dropreserve'];
const kindOf = (i: number) => KINDS[i % KINDS.length] ?? '';

const API_STARTS = 24;
const TRIGGERS = 12;
const NATS_STARTS = 8;
const POISON = 4;

/** Sends the whole load, retrying each start until sagad (perhaps after its restart) accepted it. */
class Load {
  readonly apiIds: string[];
  readonly natsIds: string[];
  readonly triggerKeys: string[];
  readonly poison: string[];
  private readonly envelopes: Envelope[];

  constructor(readonly tag: string) {
    this.apiIds = Array.from({ length: API_STARTS }, (_, i) => `${tag}-api-${i}`);
    this.natsIds = Array.from({ length: NATS_STARTS }, (_, i) => `${tag}-nats-${i}`);
    this.triggerKeys = Array.from({ length: TRIGGERS }, (_, i) => `o-${tag}-trig-${i}${kindOf(i + 1)}`);
    this.poison = Array.from({ length: POISON }, (_, i) => `poison ${tag} ${i}: not an envelope`);
    this.envelopes = this.natsIds.map((id, i) => envelope('StartSaga', `o-${id}`, { input: order(`o-${id}${kindOf(i + 2)}`), id }));
  }

  async run(w: World): Promise<void> {
    const { js, nc } = await w.link();
    const api = pool(this.apiIds, 4, async (id, i) => {
      for (;;) {
        const r = await w.api.start(order(`o-${id}${kindOf(i)}`), { id }).catch(() => null);
        if (r !== null && (r.status === 201 || r.status === 200)) return;
        await delay(50);
      }
    });
    // A start over NATS is asked again with the same envelope until answered: the same eventId, the same instance.
    const nats = pool(this.envelopes, 2, async (e) => {
      for (;;) {
        try {
          const res = await nc.request(`sagas.start.${SAGA}`, encodeEnvelope(e), { timeout: 2_000 });
          const body = JSON.parse(new TextDecoder().decode(res.data)) as { id?: string };
          if (body.id !== undefined) return;
        } catch {
          // no sagad to answer: ask again once it is back
        }
        await delay(100);
      }
    });
    // Triggers and poison go to JetStream, which keeps them for sagad whether it is up or not.
    const published = (async () => {
      for (let i = 0; i < TRIGGERS; i++) {
        const key = this.triggerKeys[i] ?? '';
        const e = envelope('OrderPlaced', key, order(key));
        await publishEnvelope(js, 'orders.events', encodeEnvelope(e), {}, e.eventId);
        if (i % 3 === 1) {
          const text = this.poison[(i - 1) / 3] ?? '';
          await publishEnvelope(js, 'orders.events', new TextEncoder().encode(text), {}, `${this.tag}-poison-${i}`);
        }
        await delay(20);
      }
    })();
    await Promise.all([api, nats, published]);
  }
}

function envelope(eventType: string, aggregateId: string, payload: Record<string, unknown>): Envelope {
  return { eventId: uuidv7(), eventType, aggregateId, timestamp: new Date().toISOString(), version: 1, correlationId: `corr-${uuidv7()}`, causationId: null, payload };
}

/**
 * Walks fault points one after the other in one world (nats-server, participant), each as a
 * subtest: sagad is started with the fault, crashes there under load, is restarted without
 * it, and everything so far is checked. The world is shared to save its start-up; what each
 * point sends is tagged with the point, and the checks cover every point walked so far.
 */
export async function walkPoints(t: Test, points: readonly (readonly [FaultPoint, number])[]): Promise<void> {
  const w = await startWorld(t, { definitions: ORDER_LOAD_DEFS });
  const launch = (env: Record<string, string> = {}) =>
    startSagad({ natsUrl: w.nats.url, dbFile: w.dbFile, definitions: w.definitions, env: { SAGA_LOG_LEVEL: 'info', ...env } });
  const sofar = { ids: [] as string[], keys: [] as string[], poison: [] as string[] };
  for (const [point, pass] of points) {
    await t.test(`SIGKILL at ${point} (pass ${pass}): after a restart nothing is lost or done twice`, async (t) => {
      await w.sagad.kill9();
      w.sagad = await launch({ SAGA_FAULT: `${point}:${pass}` });
      const load = new Load(point);
      sofar.ids.push(...load.apiIds, ...load.natsIds);
      sofar.keys.push(...load.triggerKeys);
      sofar.poison.push(...load.poison);
      const loading = load.run(w);
      loading.catch(() => undefined);

      const died = await Promise.race([w.sagad.exitStatus(), delay(30_000, null)]);
      t.ok(died, `sagad died at ${point} within 30 s of load`, w.diag());
      if (died === null) return;
      t.equal(died.signal, 'SIGKILL', 'it was killed by a signal (it sent itself SIGKILL)', w.diag({ died }));
      const line = w.sagad.logs().find((l) => l.includes('"fault point reached'));
      t.match(line === undefined ? null : JSON.parse(line), { point, pass }, 'its last word names the point and the pass', w.diag());

      // The same database and NATS, without the fault.
      w.sagad = await launch();
      await loading;
      // Until every start has its instance and every instance ended; should that not come,
      // checkAll says which start was lost or which instance is stuck. (sagad being idle is no
      // sign of the end: a redelivery after the ack wait, or a retry timer, may still be due.)
      await waitFor(async () => {
        const all = await w.api.list();
        return all.length >= sofar.ids.length + sofar.keys.length
          && all.every((i) => i.state === 'completed' || i.state === 'compensated' || i.state === 'failed');
      }, 60_000, { what: 'every saga to end', intervalMs: 200 }).catch(() => undefined);
      await checkAll(t, w, sofar, { point, pass });
      await checkPublishedOnce(t, w);

      // Each poison message is parked once: not lost, and not twice after a redelivery.
      await waitFor(() => w.sagadIdle(), 20_000, { what: 'sagad to consume everything' });
      const letters = await w.api.req<{ items: { id: string }[] }>('GET', '/v1/dlq?limit=500');
      // A list has no bodies: each letter is read on its own.
      const parked = (await Promise.all(letters.body.items.map(async (l) => (await w.api.req<{ text: string | null }>('GET', `/v1/dlq/${l.id}`)).body.text))).sort();
      t.same(parked, [...sofar.poison].sort(), 'every poison message is a dead letter, once', w.diag({ parked }));
    });
  }
}
