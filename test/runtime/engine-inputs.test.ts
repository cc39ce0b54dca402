import { join } from 'node:path';
import t from 'tap';
import type { Env } from '../../engine/core/index.js';
import { Engine, type EngineDeps, type Incoming } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type OutboxRow, type Store } from '../../engine/store/index.js';
import type { StorePort } from '../../engine/store/port.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { parseEnvelope } from '../../engine/transport/envelope.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * The engine's inputs over a real SQLite store, without NATS (engine/runtime/engine.ts): how a
 * message is routed (reply, wait event, trigger, unrelated, duplicate), what a start checks,
 * operator acts and their refusals, timers, what each commit hands to the relay and the timer
 * service, the counters, and a write that lost its race to another writer being decided again.
 */
const defs = sagasOf(`
version: 1
sagas:
  - name: shop
    start:
      on: { subject: shop.events, type: OrderPlaced }
      key: "{% $input.orderId %}"
    timeout: 1h
    defaults: { timeout: 10s, retry: { maxAttempts: 2, initialInterval: 1s, jitter: none } }
    schemas:
      OrderPlaced@1: { type: object, required: [orderId], properties: { orderId: { type: string } } }
      Reserved@1: { type: object, required: [ref], properties: { ref: { type: string } } }
    steps:
      - name: reserve
        command: { subject: stock.commands, type: Reserve, payload: { id: "{% $input.orderId %}" } }
        reply: { subject: stock.events, success: [Reserved], failure: [NoStock] }
        compensate:
          command: { subject: stock.commands, type: Release, payload: {} }
          reply: { subject: stock.events, success: [Released] }
      - name: both
        parallel:
          - - name: paid
              wait: { subject: pay.events, type: Paid, match: "{% payload.orderId = $input.orderId %}" }
          - - name: packed
              wait: { subject: pay.events, type: Paid, match: "{% payload.orderId = $input.orderId %}" }
      - name: ship
        pivot: true
        command: { subject: ship.commands, type: Ship, payload: {} }
        reply: { subject: ship.events, success: [Shipped] }
  - name: other
    steps:
      - name: only
        pivot: true
        command: { subject: other.commands, type: Do, payload: {} }
        reply: { subject: other.events, success: [Done] }
        timeout: 5s
`);

interface World {
  store: Store;
  port: StorePort;
  engine: Engine;
  pushed: OutboxRow[][];
  pokes: number[];
  logs: { level: string; msg: string; fields?: Record<string, unknown> }[];
  republished: { subject: string; headers: Record<string, string>; msgId: string; data: string }[];
}

function world(t: { testdir(): string; teardown(fn: () => unknown): void }, over: Partial<EngineDeps> = {}, port?: (p: StorePort) => StorePort): World {
  const store = openStore(join(t.testdir(), 'engine.db'));
  t.teardown(() => store.close());
  const base = sqlitePort(store);
  const w: World = { store, port: port?.(base) ?? base, engine: undefined as unknown as Engine, pushed: [], pokes: [], logs: [], republished: [] };
  w.engine = new Engine({
    store: w.port, registry: new Registry(defs),
    log: (level, msg, fields) => { w.logs.push({ level, msg, fields }); },
    relay: { push: (rows) => { w.pushed.push([...rows]); } },
    timers: { poke: (dueAt) => { w.pokes.push(dueAt); } },
    republish: async (subject, data, headers, msgId) => { w.republished.push({ subject, headers, msgId, data: new TextDecoder().decode(data) }); },
    ...over,
  });
  return w;
}

let ids = 0;
/** The correlation id each command (found by `commandOf`) was sent with: its reply carries it back (DESIGN section 3). */
const correlationOf = new Map<string, string>();
function msg(subject: string, eventType: string, over: Partial<Incoming> = {}): Incoming {
  const eventId = over.eventId ?? `in-${++ids}`;
  const correlationId = correlationOf.get(over.causationId ?? '') ?? 'corr';
  return { subject, eventId, eventType, correlationId, causationId: '', aggregateId: 'a', version: 1, payload: {}, envelope: { eventId }, ...over };
}

/** The command of `step` the instance sent last. */
function commandOf(store: Store, id: string, step: string): string {
  const state = store.getInstance(id);
  const cmds = state?.steps[step]?.commands ?? [];
  const last = cmds[cmds.length - 1];
  if (state === undefined || last === undefined) throw new Error(`no command of ${step}`);
  correlationOf.set(last, state.correlationId);
  return last;
}

const metric = async (engine: Engine, line: string) => (await engine.metrics()).split('\n').includes(line);

t.test('a trigger starts an instance with the event as $event; a reply routes to it; its redelivery is a duplicate', async (t) => {
  const w = world(t);
  const trigger = msg('shop.events', 'OrderPlaced', { eventId: 'trig-1', correlationId: '', payload: { orderId: 'o-1' }, envelope: { eventId: 'trig-1', payload: { orderId: 'o-1' } } });
  t.equal(await w.engine.receive(trigger), 'trigger');
  const [inst] = w.store.listInstances({}).items;
  const state = w.store.getInstance(inst!.id)!;
  t.same([state.saga, state.key, state.input, state.event], ['shop', 'o-1', { orderId: 'o-1' }, { eventId: 'trig-1', payload: { orderId: 'o-1' } }]);
  t.equal(state.correlationId, state.id, 'no correlation id on the trigger: the instance id');
  t.equal(await w.engine.receive(trigger), 'duplicate', 'the same event again starts nothing');
  t.equal(await w.engine.receive({ ...trigger, eventId: 'trig-2' }), 'trigger', 'another event with the same key is still a trigger');
  t.equal(w.store.listInstances({}).items.length, 1, 'but finds the instance of that key');
  t.ok(await metric(w.engine, 'sagad_instances_started_total{saga="shop"} 1'), 'one start counted');

  const reply = msg('stock.events', 'Reserved', { eventId: 'rep-1', causationId: commandOf(w.store, state.id, 'reserve'), payload: { ref: 'R' } });
  t.equal(await w.engine.receive(reply), 'reply');
  t.equal(w.store.getInstance(state.id)?.steps.reserve?.status, 'succeeded');
  t.equal(await w.engine.receive(reply), 'duplicate');
  t.equal(await w.engine.receive(msg('stock.events', 'Reserved', { causationId: 'never-sent' })), 'unrelated', 'a reply to no command of ours');
  t.equal(await w.engine.receive(msg('nobody.events', 'Whatever')), 'unrelated');
});

t.test('a reply that fails its schema is refused as an invalid message and changes nothing', async (t) => {
  const w = world(t);
  const { state } = await w.engine.start({ saga: 'shop', input: { orderId: 'o-2' } });
  const bad = msg('stock.events', 'Reserved', { causationId: commandOf(w.store, state.id, 'reserve'), payload: { ref: 7 } });
  await t.rejects(w.engine.receive(bad), { code: 'SAGA_ERR_INVALID_MESSAGE', message: /^Reserved@1 does not match its schema in saga shop: / });
  t.equal(w.store.getInstance(state.id)?.version, state.version);
  // A version the saga declares no schema for, while it declares another, is a mismatch too.
  await t.rejects(w.engine.receive({ ...bad, version: 2 }), { code: 'SAGA_ERR_INVALID_MESSAGE', message: /^Reserved@2 has no schema in saga shop, which declares Reserved@1/ });
  t.equal(w.store.getInstance(state.id)?.version, state.version, 'and changes nothing');
});

t.test('an event for wait steps: each instance waiting decides on it, two waits of one instance one after the other', async (t) => {
  const w = world(t);
  const a = (await w.engine.start({ saga: 'shop', input: { orderId: 'o-a' } })).state.id;
  const b = (await w.engine.start({ saga: 'shop', input: { orderId: 'o-b' } })).state.id;
  for (const id of [a, b]) await w.engine.receive(msg('stock.events', 'Reserved', { causationId: commandOf(w.store, id, 'reserve'), payload: { ref: 'R' } }));
  t.same(w.store.getInstance(a)?.steps.paid?.status, 'running');
  t.equal(await w.engine.receive(msg('pay.events', 'Paid', { payload: { orderId: 'o-x' } })), 'unrelated', 'waiters, but none matched');
  t.equal(await w.engine.receive(msg('pay.events', 'Paid', { payload: { orderId: 'o-a' } })), 'event');
  const after = w.store.getInstance(a)!;
  t.same([after.steps.paid?.status, after.steps.packed?.status, after.steps.ship?.status], ['succeeded', 'succeeded', 'running'], 'both waits of a, then the pivot');
  t.equal(w.store.getInstance(b)?.steps.paid?.status, 'running', 'b still waits');
  t.ok(await metric(w.engine, 'sagad_inputs_ignored_total{reason="unmatched"} 6'), 'o-x for both waits of a and of b; o-a for both of b');
});

t.test('starts: by id for another saga, an unknown saga, a key that cannot be computed, a trigger input failing its schema, draining', async (t) => {
  const w = world(t);
  await w.engine.start({ saga: 'other', input: {}, id: 'x-1' });
  await t.rejects(w.engine.start({ saga: 'shop', input: { orderId: 'o' }, id: 'x-1' }), { code: 'SAGA_ERR_INVALID_STATE', message: 'instance x-1 already exists for saga other' });
  await t.rejects(w.engine.start({ saga: 'nope', input: {} }), { code: 'SAGA_ERR_UNKNOWN_SAGA', message: 'no saga named nope is loaded (loaded: shop, other)' });
  const empty = new Engine({ store: w.port, registry: new Registry([]), log: () => undefined });
  await t.rejects(empty.start({ saga: 'nope', input: {} }), { message: 'no saga named nope is loaded (loaded: none)' });
  await t.rejects(w.engine.start({ saga: 'shop', input: {} }), { code: 'SAGA_ERR_INVALID_INPUT', message: /^cannot compute the key of shop: start.key \$input.orderId gave no value/ });
  await t.rejects(w.engine.start({ saga: 'shop', input: { orderId: 5 }, key: 'k' }), { code: 'SAGA_ERR_INVALID_INPUT', message: /^input does not match the OrderPlaced@1 schema of saga shop: / });
  const keyed = await w.engine.start({ saga: 'shop', input: { orderId: 'o-k' }, key: 'given', id: 'k-1', correlationId: 'cc' });
  t.same([keyed.created, keyed.state.key, keyed.state.correlationId], [true, 'given', 'cc'], 'a given key is used as is');
  t.same((await w.engine.start({ saga: 'shop', input: { orderId: 'other' }, key: 'given' })).state.id, 'k-1', 'and finds its instance');
  t.equal(w.pokes.length > 0 && w.pushed.length > 0, true);
  w.engine.draining = true;
  await t.rejects(w.engine.start({ saga: 'other', input: {} }), { code: 'SAGA_ERR_NOT_READY' });
  await t.rejects(async () => w.engine.cancel('k-1', ''), { code: 'SAGA_ERR_NOT_READY' }, 'refused before it is queued');
  await t.rejects(async () => w.engine.retry('k-1'), { code: 'SAGA_ERR_NOT_READY' });
  t.same(w.engine.readiness(), { ready: false, checks: { accepting: { ok: false, detail: 'draining for shutdown' } } });
});

t.test('each commit hands its outbox rows to the relay and its earliest timer to the timer service', async (t) => {
  const w = world(t);
  const { state } = await w.engine.start({ saga: 'shop', input: { orderId: 'o-3' } });
  t.equal(w.pushed.length, 1);
  t.same(w.pushed[0]!.map((r) => r.subject), ['sagas.events', 'stock.commands']);
  t.same(w.pushed[0]!.map((r) => r.seq), w.store.unsent(10).map((r) => r.seq));
  t.same(w.pokes, [state.steps.reserve!.startedAt! + 10_000], 'the attempt timeout, earlier than the deadline');
  // A reply whose decision publishes nothing and arms nothing: neither is told.
  await w.engine.receive(msg('stock.events', 'Reserved', { causationId: commandOf(w.store, state.id, 'reserve'), payload: { ref: 'R' } }));
  t.equal(w.pushed.length, 1);
  t.equal(w.pokes.length, 1);
});

t.test('operator acts: refusals keep the core\'s code, an unknown id is not found, the finished counter by saga and state', async (t) => {
  const w = world(t);
  await t.rejects(w.engine.cancel('missing', ''), { code: 'SAGA_ERR_NOT_FOUND', message: 'no instance missing' });
  const { state } = await w.engine.start({ saga: 'shop', input: { orderId: 'o-4' } });
  await t.rejects(w.engine.retry(state.id), { code: 'SAGA_ERR_INVALID_STATE', message: /only a failed instance can be retried/ });
  const cancelled = await w.engine.cancel(state.id, 'because');
  t.equal(cancelled.status, 'compensating', 'reserve may have been done: it is undone');
  t.same(w.store.getInstance(state.id)?.compensation?.reason.message, 'cancelled: because');
  t.notOk((await w.engine.metrics()).includes('sagad_instances_finished_total{'), 'not finished yet');
  const undo = w.store.getInstance(state.id)!.steps.reserve!.compensation!.commands[0]!;
  t.equal(await w.engine.receive(msg('stock.events', 'Released', { causationId: undo, correlationId: state.correlationId })), 'reply');
  t.ok(await metric(w.engine, 'sagad_instances_finished_total{saga="shop",state="compensated"} 1'));
});

t.test('timers: a due one fires once; firing it again is a duplicate and counts nothing', async (t) => {
  const w = world(t);
  const { state } = await w.engine.start({ saga: 'shop', input: { orderId: 'o-5' } });
  const row = w.store.dueTimers(Number.MAX_SAFE_INTEGER, 10).find((r) => r.data.kind === 'attempt_timeout')!;
  await w.engine.fire(row);
  t.equal(w.store.getInstance(state.id)?.steps.reserve?.status, 'retrying');
  const version = w.store.getInstance(state.id)?.version;
  await w.engine.fire(row);
  t.equal(w.store.getInstance(state.id)?.version, version, 'the fired timer is gone: nothing decided again');
  t.ok(await metric(w.engine, 'sagad_timers_fired_total{kind="attempt_timeout"} 1'));
  t.ok(await metric(w.engine, 'sagad_timer_lag_seconds_count 1'));
  // A timer row that is not in the store (fired elsewhere): decided as stale, nothing written, not counted as fired.
  const deadline = w.store.dueTimers(Number.MAX_SAFE_INTEGER, 10).find((r) => r.data.kind === 'deadline')!;
  await w.engine.fire({ ...deadline, timerId: 'retry:reserve:7', data: { kind: 'retry', step: 'reserve', attempt: 7 } });
  t.notOk((await w.engine.metrics()).includes('sagad_inputs_ignored_total{reason="stale"}'), 'decided as stale, but the write finds the row gone: a duplicate, counted as ignored neither the second firing nor this one');
  t.notOk((await w.engine.metrics()).includes('sagad_timers_fired_total{kind="retry"}'));
  t.ok(await metric(w.engine, 'sagad_timer_lag_seconds_count 1'), 'no lag recorded for it');
  t.equal(w.store.getInstance(state.id)?.version, version);
});

t.test('history, metrics and stats read the store', async (t) => {
  const w = world(t, { lag: () => 7 });
  t.equal(await w.engine.history('missing'), undefined);
  const { state } = await w.engine.start({ saga: 'other', input: {} });
  t.same((await w.engine.history(state.id))?.map((e) => e.type), ['SagaStarted', 'StepDispatched']);
  const text = await w.engine.metrics();
  for (const line of [
    'sagad_instances{saga="other",state="running"} 1', 'sagad_timers_pending 1', 'sagad_outbox_backlog 2', 'sagad_dead_letters 0', 'sagad_consumer_lag 7',
    '# HELP sagad_consumer_lag Messages on subscribed subjects not yet processed (all consumers).', '# TYPE sagad_instances gauge',
  ]) t.ok(text.split('\n').includes(line), line);
  t.same(await w.engine.stats(), { instances: [{ saga: 'other', state: 'running', count: 1 }], timersPending: 1, outboxBacklog: 2, deadLetters: 0, consumerLag: 7 });
  const noLag = world(t);
  t.ok(await metric(noLag.engine, 'sagad_consumer_lag 0'));
  t.equal((await noLag.engine.stats()).consumerLag, 0);
  t.same(noLag.engine.readiness(), { ready: true, checks: { accepting: { ok: true } } });
  const withBase = world(t, { readiness: () => ({ ready: false, checks: { nats: { ok: false, detail: 'down' } } }) });
  t.same(withBase.engine.readiness(), { ready: false, checks: { nats: { ok: false, detail: 'down' }, accepting: { ok: true } } });
  t.same(w.engine.definitions().map((d) => d.name), ['shop', 'other']);
  t.equal(w.engine.definitionByHash(defs[1]!.hash)?.name, 'other');
});

t.test('dead letters: listed, redriven with a fresh message id, deleted', async (t) => {
  const w = world(t);
  await t.rejects(w.engine.redriveDeadLetter('nope'), { code: 'SAGA_ERR_NOT_FOUND', message: 'no dead letter nope' });
  const id = (await w.port.park({ subject: 'stock.events', reason: 'bad', headers: { 'Nats-Msg-Id': 'orig' }, data: new TextEncoder().encode('raw'), deliveryCount: 1, at: 1 }))!;
  t.equal((await w.engine.listDeadLetters({})).items.length, 1);
  const noNats = new Engine({ store: w.port, registry: new Registry(defs), log: () => undefined });
  await t.rejects(noNats.redriveDeadLetter(id), { code: 'SAGA_ERR_NOT_READY', message: 'not connected to NATS' });
  const after = await w.engine.redriveDeadLetter(id);
  t.equal(w.republished.length, 1);
  t.match(w.republished[0], { subject: 'stock.events', headers: { 'Nats-Msg-Id': 'orig' }, data: 'raw', msgId: new RegExp(`^redrive-${id}-\\d+$`) });
  t.ok(after.redrivenAt !== null && after.redrivenAt !== undefined, 'marked redriven');
  t.same((await w.engine.getDeadLetter(id))?.id, id);
  t.equal(await w.engine.deleteDeadLetter(id), true);
  t.equal(await w.engine.getDeadLetter(id), undefined);
});

t.test('definitions: remembered by hash, and an instance\'s earlier definition comes back from the store', async (t) => {
  const w = world(t);
  await w.engine.rememberDefinitions();
  t.same((await w.port.listDefinitions()).map((d) => d.name).sort(), ['other', 'shop']);
  const { state } = await w.engine.start({ saga: 'other', input: {} });
  const changed = sagasOf(`
version: 1
sagas:
  - name: other
    steps:
      - name: only
        pivot: true
        command: { subject: other.commands, type: DoItNow, payload: {} }
        reply: { subject: other.events, success: [Done] }
        timeout: 5s
`);
  const logs: string[] = [];
  const registry = new Registry(changed);
  const restarted = new Engine({ store: w.port, registry, log: (_l, m, f) => { logs.push(`${m} ${JSON.stringify(f)}`); } });
  await restarted.pinDefinitionsInUse();
  t.equal(registry.byDefinitionHash(state.definitionHash)?.name, 'other', 'pinned before any input');
  t.same(logs, [`loaded a stored definition other than the current one, for instances that may still take an input ${JSON.stringify({ saga: 'other', hash: state.definitionHash })}`]);
  await restarted.pinDefinitionsInUse();
  t.equal(logs.length, 1, 'a loaded hash is not compiled again');
  // An instance whose definition was never stored cannot run.
  const bare = openStore(join(t.testdir(), 'bare.db'));
  t.teardown(() => bare.close());
  const first = new Engine({ store: sqlitePort(bare), registry: new Registry(defs), log: () => undefined });
  const lone = await first.start({ saga: 'other', input: {} });
  const lost = new Engine({ store: sqlitePort(bare), registry: new Registry([]), log: () => undefined });
  await t.rejects(lost.pinDefinitionsInUse(), { code: 'SAGA_ERR_DEFINITION_MISSING', message: `running instances use definition ${lone.state.definitionHash}, which is neither loaded nor stored` });
  await t.rejects(lost.cancel(lone.state.id, ''), { code: 'SAGA_ERR_DEFINITION_MISSING', message: `instance ${lone.state.id} runs definition ${lone.state.definitionHash} of other, which is neither loaded nor stored` });
});

t.test('a write that lost its race to another writer is decided again on the state that writer left', async (t) => {
  let other: Engine | null = null;
  let raced = false;
  const w = world(t, {}, (p) => ({
    ...p,
    commit: async (write) => {
      // The first commit of the cancel: another writer (a second replica) retries the instance first.
      if (!raced && other !== null && write.changes.some((c) => c.events.some((e) => e.type === 'CompensationStarted'))) {
        raced = true;
        const row = (await p.timersOf(write.changes[0]!.state.id)).find((r) => r.data.kind === 'attempt_timeout')!;
        await other.fire(row);
      }
      return p.commit(write);
    },
  }));
  other = new Engine({ store: sqlitePort(w.store), registry: new Registry(defs), log: () => undefined });
  const { state } = await w.engine.start({ saga: 'shop', input: { orderId: 'o-r' } });
  const after = await w.engine.cancel(state.id, '');
  t.ok(raced, 'the other writer went first');
  t.equal(after.steps.reserve?.status, 'timed_out', 'decided again after the timeout: reserve was retrying, then given up');
  t.same(w.store.history(state.id).map((e) => e.type).filter((x) => x === 'StepAttemptFailed' || x === 'CompensationStarted'), ['StepAttemptFailed', 'CompensationStarted']);
  t.ok(await metric(w.engine, 'sagad_write_conflicts_total 1'));
});

t.test('settled waits for the inputs in hand', async (t) => {
  const w = world(t);
  let done = false;
  const p = w.engine.start({ saga: 'other', input: {} }).then(() => { done = true; });
  await w.engine.settled();
  t.ok(done, 'the start had committed when settled resolved');
  await p;
});

t.test('the parsed outbox row of a start is the command the core decided', async (t) => {
  const w = world(t);
  const { state } = await w.engine.start({ saga: 'shop', input: { orderId: 'o-6' }, correlationId: 'c-6' });
  const row = w.store.unsent(10).find((r) => r.subject === 'stock.commands')!;
  const env = parseEnvelope(row.data);
  t.match(env, { ok: true, envelope: { eventType: 'Reserve', correlationId: 'c-6', payload: { id: 'o-6' } } });
  t.equal(row.headers['Saga-Id'], state.id);
});

t.test('an injected Env decides time and ids', async (t) => {
  let n = 0;
  const env = (): Env => ({ now: 5_000, newId: () => `id-${++n}`, random: () => 0 });
  const w = world(t, { env });
  const { state } = await w.engine.start({ saga: 'other', input: {} });
  t.same([state.id, state.createdAt, state.correlationId], ['id-1', 5_000, 'id-1']);
});
