import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Env, InstanceState } from '../../engine/core/index.js';
import { uuidv7 } from '../../engine/ids.js';
import { Engine, type EngineDeps, type Incoming } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type Store } from '../../engine/store/index.js';
import type { StorePort } from '../../engine/store/port.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { PinnedIds, SagaTracing } from '../../engine/tracing/spans.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * The engine's less travelled paths over a real SQLite file (engine/runtime/engine.ts): the log
 * line of an instance that failed, a late success after the window, an input that keeps losing
 * its race, what the operator's acts log without a name, and the spans a traced instance's
 * decisions write.
 */
const sagas = sagasOf(`
version: 1
sagas:
  - name: pay
    timeout: 1h
    defaults: { timeout: 10s, retry: { maxAttempts: 1 } }
    steps:
      - name: reserve
        command: { subject: p.commands, type: Reserve, payload: {} }
        reply: { subject: p.events, success: [Reserved], failure: [NoStock] }
        compensate:
          command: { subject: p.commands, type: Release, payload: {} }
          reply: { subject: p.events, success: [Released], failure: [Stuck] }
      - name: charge
        command: { subject: p.commands, type: Charge, payload: {} }
        reply: { subject: p.events, success: [Charged], failure: [Declined] }
        compensate:
          command: { subject: p.commands, type: Refund, payload: {} }
          reply: { subject: p.events, success: [Refunded] }
`);

interface Line { level: string; msg: string; fields?: Record<string, unknown> }

function world(t: Test, over: Partial<EngineDeps> = {}, wrap?: (p: StorePort) => StorePort) {
  const file = join(t.testdir(), 'engine.db');
  const store: Store = openStore(file);
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  const logs: Line[] = [];
  const clock = { now: Date.now() };
  const env = (): Env => ({ now: clock.now, newId: () => uuidv7(), random: Math.random });
  const engine = new Engine({ store: wrap?.(port) ?? port, registry: new Registry(sagas), log: (level, msg, fields) => { logs.push({ level, msg, fields }); }, env, ...over });
  /** The reply of type `type` to the command `step` awaits now (or `command`). */
  const reply = async (id: string, step: string, type: string, command?: string): Promise<Incoming> => {
    const state = await engine.getInstance(id);
    const cmd = command ?? state?.steps[step]?.awaiting ?? state?.steps[step]?.compensation?.awaiting;
    if (state === undefined || cmd === null || cmd === undefined) throw new Error(`${step} awaits nothing`);
    const eventId = uuidv7();
    return { subject: 'p.events', eventId, eventType: type, correlationId: state.correlationId, causationId: cmd, aggregateId: 'a', version: 1, payload: {}, envelope: { eventId } };
  };
  return { file, store, port, engine, logs, clock, reply };
}

const metric = async (engine: Engine, line: string) => (await engine.metrics()).split('\n').includes(line);

t.test('an instance that failed is logged with its step and error, for the operator to retry', async (t) => {
  const w = world(t);
  const { state } = await w.engine.start({ saga: 'pay', input: {} });
  await w.engine.receive(await w.reply(state.id, 'reserve', 'Reserved'));
  await w.engine.receive(await w.reply(state.id, 'charge', 'Declined'));
  t.same(w.logs, [], 'nothing logged while compensating');
  await w.engine.receive(await w.reply(state.id, 'reserve', 'Stuck'));
  const after = await w.engine.getInstance(state.id);
  t.equal(after?.status, 'failed');
  const failed = after as Extract<InstanceState, { status: 'failed' }>;
  t.same(w.logs, [{ level: 'warn', msg: 'instance failed; it waits for an operator\'s retry', fields: { instance: state.id, saga: 'pay', step: failed.failure.step, error: failed.failure.error } }]);
  t.equal(failed.failure.step, 'reserve');
});

t.test('a success after the late window is refused as a late reply and changes nothing', async (t) => {
  const w = world(t, { lateWindowMs: 1_000 });
  const { state } = await w.engine.start({ saga: 'pay', input: {} });
  await w.engine.receive(await w.reply(state.id, 'reserve', 'Reserved'));
  const charge = (await w.engine.getInstance(state.id))?.steps.charge?.awaiting ?? '';
  await w.engine.receive(await w.reply(state.id, 'charge', 'Declined'));
  await w.engine.receive(await w.reply(state.id, 'reserve', 'Released'));
  const compensated = await w.engine.getInstance(state.id);
  t.equal(compensated?.status, 'compensated');
  w.clock.now = (compensated?.updatedAt ?? 0) + 1_001;
  await t.rejects(w.engine.receive(await w.reply(state.id, 'charge', 'Charged', charge)), {
    code: 'SAGA_ERR_LATE_REPLY',
    message: `success Charged for step of instance ${state.id} arrived more than 1000 ms (SAGA_LATE_SUCCESS_WINDOW) after the instance was compensated; the instance stays compensated and the step is not compensated`,
  });
  t.same(await w.engine.getInstance(state.id), compensated, 'still compensated, as it was');
  // Within the window it reopens the instance to undo the charge.
  w.clock.now = (compensated?.updatedAt ?? 0) + 999;
  t.equal(await w.engine.receive(await w.reply(state.id, 'charge', 'Charged', charge)), 'reply');
  t.equal((await w.engine.getInstance(state.id))?.status, 'compensating');
});

t.test('an input that loses its race twenty times gives up with a version conflict', async (t) => {
  let commits = 0;
  const w = world(t, {}, (p) => ({ ...p, commit: async (write) => { commits++; return { status: 'conflict' as const, instanceId: write.changes[0]?.state.id ?? '' }; } }));
  await t.rejects(w.engine.start({ saga: 'pay', input: {} }), { code: 'SAGA_ERR_VERSION_CONFLICT', message: 'gave up after 20 races with other writers of the same instance' });
  t.equal(commits, 20, 'decided and written twenty times');
  t.ok(await metric(w.engine, 'sagad_write_conflicts_total 19'), 'the nineteen retried races counted');
  await w.engine.settled();
  t.pass('settled once it gave up');
});

t.test('operator acts without a name or reason log nulls; a purge is logged only when a letter went', async (t) => {
  const w = world(t);
  const { state } = await w.engine.start({ saga: 'pay', input: {} });
  await w.engine.cancel(state.id, 'no reason given');
  t.same(w.logs.at(-1), { level: 'info', msg: 'operator cancelled an instance', fields: { action: 'cancel', instance: state.id, by: null, reason: 'no reason given' } });
  const failing = (await w.engine.start({ saga: 'pay', input: {} })).state.id;
  await w.engine.receive(await w.reply(failing, 'reserve', 'Reserved'));
  await w.engine.receive(await w.reply(failing, 'charge', 'Declined'));
  await w.engine.receive(await w.reply(failing, 'reserve', 'Stuck'));
  await w.engine.retry(failing);
  t.same(w.logs.at(-1), { level: 'info', msg: 'operator retried an instance', fields: { action: 'retry', instance: failing, by: null, reason: null } });
  const letter = await w.port.park({ subject: 'p.events', reason: 'r', headers: {}, data: new Uint8Array([1]), deliveryCount: 1, at: 1 });
  const count = w.logs.length;
  t.equal(await w.engine.deleteDeadLetter('no-such-letter'), false);
  t.equal(w.logs.length, count, 'nothing deleted, nothing logged');
  t.equal(await w.engine.deleteDeadLetter(letter ?? '', { by: 'ops', reason: 'junk' }), true);
  t.same(w.logs.at(-1), { level: 'info', msg: 'operator purged a dead letter', fields: { action: 'purge', deadLetter: letter, by: 'ops', reason: 'junk' } });
  await w.engine.deleteDeadLetter((await w.port.park({ subject: 'p.events', reason: 'r', headers: {}, data: new Uint8Array([2]), deliveryCount: 1, at: 1 })) ?? '');
  t.match(w.logs.at(-1), { fields: { by: null, reason: null } });
});

t.test('with tracing on, each committed decision writes its spans: the saga span and one per attempt', async (t) => {
  const exporter = new InMemorySpanExporter();
  const ids = new PinnedIds();
  const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const provider = new BasicTracerProvider({ sampler, idGenerator: ids, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracing = new SagaTracing(provider.getTracer('sagad'), sampler, ids);
  const w = world(t, { tracing });
  const caller = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const { state } = await w.engine.start({ saga: 'pay', input: {}, trace: { traceparent: caller } });
  t.equal(state.trace?.parent, caller, 'the instance continues the caller\'s trace');
  await w.engine.receive(await w.reply(state.id, 'reserve', 'Reserved'));
  t.same(exporter.getFinishedSpans().map((s) => s.name), ['step reserve'], 'the reply ended the reserve attempt');
  await w.engine.receive(await w.reply(state.id, 'charge', 'Charged'));
  const spans = exporter.getFinishedSpans();
  t.same(spans.map((s) => s.name), ['step reserve', 'step charge', 'saga pay']);
  t.ok(spans.every((s) => s.spanContext().traceId === '0af7651916cd43dd8448eb211c80319c'), 'all in the caller\'s trace');

  // An operator's act and a timer are decisions too.
  const cancelled = (await w.engine.start({ saga: 'pay', input: {} })).state.id;
  await w.engine.cancel(cancelled, 'stop');
  t.ok(exporter.getFinishedSpans().some((s) => s.name === 'step reserve' && s.spanContext().traceId !== '0af7651916cd43dd8448eb211c80319c'), 'the cancelled attempt has its span');
  const timed = (await w.engine.start({ saga: 'pay', input: {} })).state.id;
  const row = (await w.engine.timersOf(timed)).find((r) => r.data.kind === 'attempt_timeout');
  if (row === undefined) throw new Error('no attempt timer');
  const before = exporter.getFinishedSpans().length;
  await w.engine.fire(row);
  t.ok(exporter.getFinishedSpans().length > before, 'the timeout ended the attempt\'s span');
});

t.test('an instance of a definition no longer loaded: recompiled from the store and logged; one whose stored source is broken is refused', async (t) => {
  const w = world(t);
  await w.engine.rememberDefinitions();
  const { state } = await w.engine.start({ saga: 'pay', input: {} });
  const logs: Line[] = [];
  const later = new Engine({ store: w.port, registry: new Registry([]), log: (level, msg, fields) => { logs.push({ level, msg, fields }); } });
  await later.cancel(state.id, 'stop');
  t.same(logs[0], { level: 'info', msg: 'loaded a stored definition other than the current one, for an instance', fields: { saga: 'pay', hash: state.definitionHash, instance: state.id } });
  t.equal(logs.filter((l) => l.msg === 'loaded a stored definition other than the current one, for an instance').length, 1, 'pinned once: not compiled again');

  const pinned: Line[] = [];
  const restarted = new Engine({ store: w.port, registry: new Registry([]), log: (level, msg, fields) => { pinned.push({ level, msg, fields }); } });
  const other = (await w.engine.start({ saga: 'pay', input: {} })).state;
  await restarted.pinDefinitionsInUse();
  t.same(pinned, [{ level: 'info', msg: 'loaded a stored definition other than the current one, for instances that may still take an input', fields: { saga: 'pay', hash: other.definitionHash } }]);

  // The stored source is damaged: the instance cannot be decided, and says why.
  const db = new Database(w.file);
  db.prepare('UPDATE definitions SET source = ? WHERE hash = ?').run('version: 1\nsagas: [', state.definitionHash);
  db.close();
  const broken = new Engine({ store: w.port, registry: new Registry([]), log: () => undefined });
  await t.rejects(broken.retry(other.id), { message: new RegExp(`^stored definition ${state.definitionHash} does not compile: .+`) });
});

t.test('a reply with another correlation id than its command\'s is refused, saying both', async (t) => {
  const w = world(t);
  const { state } = await w.engine.start({ saga: 'pay', input: {}, correlationId: 'corr-a' });
  const m = await w.reply(state.id, 'reserve', 'Reserved');
  await t.rejects(w.engine.receive({ ...m, correlationId: 'corr-b' }), {
    code: 'SAGA_ERR_CORRELATION_MISMATCH',
    message: `reply Reserved to command ${m.causationId} carries correlationId "corr-b", but the command was sent with "corr-a"`,
  });
  t.equal((await w.engine.getInstance(state.id))?.steps.reserve?.status, 'running', 'the step still waits');
  t.equal(await w.engine.receive(m), 'reply', 'the right one is taken');
});
