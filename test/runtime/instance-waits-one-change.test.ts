/**
 * One event that several wait steps of one instance await (engine/runtime/engine.ts, `receive`)
 * is one change of that instance in the write, on both store adapters (a SQLite file and a real
 * PostgreSQL 15): each adapter checks a change against the version it read before the write, so
 * a second change of the same instance would be a lost race every time it was decided again.
 */
import type { Test } from 'tap';
import { Engine, type Incoming } from '../../engine/runtime/engine.js';
import { silentLog } from '../../engine/log.js';
import { Registry } from '../../engine/runtime/registry.js';
import type { StorePort } from '../../engine/store/port.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';
import { onBothStores } from '../helpers/both-stores.js';

const sagas = sagasOf(`
sagas:
  - name: both-wait
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: both
        parallel:
          - - name: w1
              wait: { subject: e.events, type: E }
          - - name: w2
              wait: { subject: e.events, type: E }
      - name: after
        pivot: true
        command: { subject: a.commands, type: Go, payload: {} }
        reply: { subject: a.events, success: [Went] }
`);

let n = 0;
const event = (over: Partial<Incoming> = {}): Incoming => {
  const eventId = `e-${++n}`;
  return { subject: 'e.events', eventId, eventType: 'E', correlationId: 'corr', causationId: '', aggregateId: 'a', version: 1, payload: {}, envelope: { eventId }, ...over };
};

async function scenarios(t: Test, open: () => Promise<StorePort>): Promise<void> {
  t.test('two wait steps of one instance take one event in one write, one change of the instance', async (t) => {
    const store = await open();
    // Each write as the adapter gets it: how many changes of each instance it holds.
    const writes: number[][] = [];
    const commit: StorePort['commit'] = (w) => {
      const per = new Map<string, number>();
      for (const c of w.changes) per.set(c.state.id, (per.get(c.state.id) ?? 0) + 1);
      writes.push([...per.values()]);
      return store.commit(w);
    };
    const engine = new Engine({ store: { ...store, commit }, registry: new Registry(sagas), log: silentLog });
    const { state } = await engine.start({ saga: 'both-wait', input: {}, id: 'i-1', correlationId: 'corr' });
    t.same((await store.waiting('e.events', 'E', 'corr')).map((w) => w.step).sort(), ['w1', 'w2'], 'both wait');
    t.equal(await engine.receive(event()), 'event');
    t.same(writes.at(-1), [1], 'the event\'s write holds one change of the instance');
    const after = await store.getInstance('i-1');
    t.same([after?.steps.w1?.status, after?.steps.w2?.status, after?.steps.after?.status], ['succeeded', 'succeeded', 'running'], 'both waits ended, the next step runs');
    t.same(await store.waiting('e.events', 'E', 'corr'), [], 'nothing waits any more');
    const history = await store.history('i-1');
    t.equal(after?.version, history.length, 'the journal holds each event of the one write once');
    t.ok((after?.version ?? 0) > state.version);
    t.equal(await engine.receive(event({ eventId: 'e-again' })), 'unrelated', 'a second event finds no wait');
  });
}

onBothStores(scenarios);
