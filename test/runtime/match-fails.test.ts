import { join } from 'node:path';
import t from 'tap';
import { Engine, type Incoming } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * A wait step's `match` that fails on an event (an error, or an expression limit) does not
 * take the event and does not fail the step: the log says why, once per interval for the saga
 * and step, and `sagad_inputs_ignored_total{reason="match_failed"}` counts it. Over a real
 * SQLite store, without NATS (engine/runtime/engine.ts, engine/core/decide.ts).
 */
const defs = sagasOf(`
version: 1
sagas:
  - name: ranged
    steps:
      - name: await-range
        wait: { subject: m.events, type: Range, match: "{% $count([1..payload.n]) > 0 and payload.ref = $input.ref %}" }
        timeout: 1m
      - name: done
        pivot: true
        timeout: 5s
        command: { subject: m.commands, type: Done, payload: {} }
        reply: { subject: m.replies, success: [DoneOk] }
`);

let ids = 0;
const range = (payload: unknown): Incoming => {
  const eventId = `ev-${++ids}`;
  return { subject: 'm.events', eventId, eventType: 'Range', correlationId: 'elsewhere', causationId: '', aggregateId: 'a', version: 1, payload, envelope: { eventId } };
};

t.test('a match that fails on an event leaves the wait running, and says why', async (t) => {
  const store = openStore(join(t.testdir(), 'engine.db'));
  t.teardown(() => store.close());
  const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(defs), log: (level, msg, fields) => { logs.push({ level, msg, fields }); } });
  const { state } = await engine.start({ saga: 'ranged', input: { ref: 'r1' } });
  const failed = () => logs.filter((l) => l.msg === 'a wait step\'s match failed on an event, so the instance did not take it');

  t.equal(await engine.receive(range({ n: 500_000, ref: 'r1' })), 'unrelated', 'a range over the limit: not taken');
  t.equal(store.getInstance(state.id)?.steps['await-range']?.status, 'running', 'the step does not fail');
  t.equal(failed().length, 1);
  t.match(failed()[0]?.fields, {
    instance: state.id, saga: 'ranged', step: 'await-range', subject: 'm.events', eventType: 'Range',
    error: /stopped: the range \[1\.\.500000\] would hold 500000 items, more than the 100000 allowed/,
  });
  t.equal(failed()[0]?.level, 'warn');

  t.equal(await engine.receive(range({ n: 'abc', ref: 'r1' })), 'unrelated', 'an error: not taken');
  t.equal(failed().length, 1, 'the same saga and step again within the interval: one line');
  const metrics = (await engine.metrics()).split('\n');
  t.ok(metrics.includes('sagad_inputs_ignored_total{reason="match_failed"} 2'), 'both counted');

  t.equal(await engine.receive(range({ n: 2, ref: 'r2' })), 'unrelated', 'a match that says no');
  t.ok((await engine.metrics()).split('\n').includes('sagad_inputs_ignored_total{reason="unmatched"} 1'), 'counted apart');
  t.equal(await engine.receive(range({ n: 2, ref: 'r1' })), 'event', 'the event it takes still completes the wait');
  t.equal(store.getInstance(state.id)?.steps['await-range']?.status, 'succeeded');
});
