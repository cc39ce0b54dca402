/**
 * The attempt span of a `saga` step is its child: it starts when the child was started (or
 * asked to compensate) and ends with the child's end. A child's id (`<parent>.<step>.<n>`)
 * carries no time as a command's UUIDv7 does, so the start comes from the instance's state.
 * The engine runs on a real SQLite file with a clock the test sets; its ids are UUIDv7s made
 * at that clock, so every time below is exact.
 */
import t from 'tap';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Env } from '../../engine/core/index.js';
import { createUuidv7, uuidv7 } from '../../engine/ids.js';
import { uuidv7Time } from '../../engine/tracing/context.js';
import { rig } from '../runtime/engine-rig.js';
import { commandId, memoryTracing, spansOf } from './memory.js';

const yaml = `
version: 1
sagas:
  - name: later
    defaults: { timeout: 1h, retry: { maxAttempts: 1 } }
    steps:
      - name: first
        command: { subject: a.commands, type: First, payload: {} }
        reply: { subject: a.events, success: [Firsted] }
        compensate:
          command: { subject: a.commands, type: Unfirst, payload: {} }
          reply: { subject: a.events, success: [Unfirsted] }
      - name: kid
        saga: child
        input: {}
      - name: finish
        command: { subject: a.commands, type: Finish, payload: {} }
        reply: { subject: a.events, success: [Finished], failure: [NotFinished] }
        compensate:
          command: { subject: a.commands, type: Unfinish, payload: {} }
          reply: { subject: a.events, success: [Unfinished] }
  - name: quick
    defaults: { timeout: 1h, retry: { maxAttempts: 1 } }
    steps:
      - name: kid
        saga: waiter
        input: {}
      - name: finish
        pivot: true
        command: { subject: a.commands, type: Finish, payload: {} }
        reply: { subject: a.events, success: [Finished], failure: [NotFinished] }
  - name: bounded
    defaults: { timeout: 1h, retry: { maxAttempts: 1 } }
    steps:
      - name: kid
        saga: child
        input: {}
        timeout: 2s
  - name: waiter
    defaults: { timeout: 1h, retry: { maxAttempts: 1 } }
    steps:
      - name: cw
        wait: { subject: e.events, type: Go }
  - name: child
    defaults: { timeout: 1h, retry: { maxAttempts: 1 } }
    steps:
      - name: work
        command: { subject: b.commands, type: Work, payload: {} }
        reply: { subject: b.events, success: [Worked] }
        compensate:
          command: { subject: b.commands, type: Unwork, payload: {} }
          reply: { subject: b.events, success: [Unworked] }
`;

const T0 = Date.UTC(2030, 0, 1);

/** An engine clock the test moves by hand; the ids it makes are UUIDv7s of that time. */
function clock(): { env: () => Env; set(ms: number): void } {
  let now = T0;
  const id = createUuidv7();
  return { env: () => ({ now, newId: () => id(now), random: () => 0.5 }), set: (ms) => { now = ms; } };
}

/** Start and end of a span in epoch ms. */
function times(span: ReadableSpan | undefined): { start: number; end: number } | undefined {
  if (span === undefined) return undefined;
  const ms = ([s, ns]: readonly [number, number]) => s * 1000 + Math.round(ns / 1e6);
  return { start: ms(span.startTime), end: ms(span.endTime) };
}

t.test('a child\'s id is not a UUIDv7, though it begins with its parent\'s', async (t) => {
  const parent = uuidv7();
  t.type(uuidv7Time(parent), 'number');
  t.equal(uuidv7Time(`${parent}.kid.1`), null);
});

t.test('a saga step that is not the first: its span starts when its child started and ends with the child', async (t) => {
  const mem = memoryTracing();
  const c = clock();
  const { store, engine, deliver } = rig(t, yaml, { tracing: mem.tracing, env: c.env });
  const { state } = await engine.start({ saga: 'later', input: {}, correlationId: 'c-1' });
  c.set(T0 + 1_000);
  await deliver('a.events', { eventType: 'Firsted', correlationId: 'c-1', causationId: commandId(store, 'a.commands'), payload: {} });
  await engine.settled();
  const childId = store.getInstance(state.id)?.steps['kid']?.awaiting ?? '';
  t.equal(store.getInstance(childId)?.createdAt, T0 + 1_000, 'the child started when the first step succeeded');
  c.set(T0 + 3_000);
  await deliver('b.events', { eventType: 'Worked', correlationId: 'c-1', causationId: commandId(store, 'b.commands'), payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps['kid']?.status, 'succeeded', 'the child\'s end ended the step');

  const step = spansOf(mem.exporter, state.id, 'step kid');
  t.equal(step.length, 1, 'one attempt span for the saga step');
  t.same(times(step[0]), { start: T0 + 1_000, end: T0 + 3_000 }, 'from the child\'s start (not the parent\'s) to its end');
  t.same(times(spansOf(mem.exporter, state.id, 'step first')[0]), { start: T0, end: T0 + 1_000 }, 'a command\'s attempt still starts at its id\'s time');
});

t.test('a parent started with an id of its own: its saga step\'s span does not collapse to its end', async (t) => {
  const mem = memoryTracing();
  const c = clock();
  const { store, engine, deliver } = rig(t, yaml, { tracing: mem.tracing, env: c.env });
  const { state } = await engine.start({ saga: 'quick', id: 'order-7', input: {}, correlationId: 'c-2' });
  t.equal(state.id, 'order-7');
  const childId = store.getInstance(state.id)?.steps['kid']?.awaiting ?? '';
  t.equal(childId, 'order-7.kid.1', 'the child\'s id names its parent and step, and carries no time');
  c.set(T0 + 2_500);
  await deliver('e.events', { eventType: 'Go', correlationId: 'c-2', payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps['finish']?.status, 'running', 'the child completed, and the parent went on');
  const span = times(spansOf(mem.exporter, state.id, 'step kid')[0]);
  t.ok(span !== undefined && span.start < span.end, 'a span of some length');
  t.same(span, { start: store.getInstance(childId)?.createdAt, end: T0 + 2_500 }, 'from the child\'s start to its end');
});

t.test('the compensation of a saga step: from the parent asking its child to compensate to the child\'s compensation', async (t) => {
  const mem = memoryTracing();
  const c = clock();
  const { store, engine, deliver } = rig(t, yaml, { tracing: mem.tracing, env: c.env });
  const { state } = await engine.start({ saga: 'later', input: {}, correlationId: 'c-3' });
  c.set(T0 + 1_000);
  await deliver('a.events', { eventType: 'Firsted', correlationId: 'c-3', causationId: commandId(store, 'a.commands'), payload: {} });
  await engine.settled();
  c.set(T0 + 2_000);
  await deliver('b.events', { eventType: 'Worked', correlationId: 'c-3', causationId: commandId(store, 'b.commands'), payload: {} });
  await engine.settled();
  c.set(T0 + 4_000);
  await deliver('a.events', { eventType: 'NotFinished', correlationId: 'c-3', causationId: commandId(store, 'a.commands'), payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps['kid']?.compensation?.startedAt, T0 + 4_000, 'the parent asked its child to compensate');
  c.set(T0 + 7_000);
  await deliver('b.events', { eventType: 'Unworked', correlationId: 'c-3', causationId: commandId(store, 'b.commands'), payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps['kid']?.compensation?.status, 'compensated', 'the child\'s compensation compensated the step');
  t.same(times(spansOf(mem.exporter, state.id, 'step kid')[0]), { start: T0 + 1_000, end: T0 + 2_000 }, 'the forward attempt');
  t.same(times(spansOf(mem.exporter, state.id, 'compensate kid')[0]), { start: T0 + 4_000, end: T0 + 7_000 }, 'the compensation, from its request to its end');
});

t.test('a compensation of a saga step begun and ended in one write starts in that write', async (t) => {
  const mem = memoryTracing();
  const c = clock();
  const { store, engine, deliver } = rig(t, yaml, { tracing: mem.tracing, env: c.env });
  const { state } = await engine.start({ saga: 'quick', input: {}, correlationId: 'c-4' });
  c.set(T0 + 1_000);
  await deliver('e.events', { eventType: 'Go', correlationId: 'c-4', payload: {} });
  await engine.settled();
  c.set(T0 + 5_000);
  // The pivot fails; the child has nothing to undo and is compensated at once, in the same write.
  await deliver('a.events', { eventType: 'NotFinished', correlationId: 'c-4', causationId: commandId(store, 'a.commands'), payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.status, 'compensated');
  t.same(times(spansOf(mem.exporter, state.id, 'compensate kid')[0]), { start: T0 + 5_000, end: T0 + 5_000 }, 'not at the parent\'s start');
});

t.test('a saga step whose child outlives its timeout: the attempt span ends timed out, with a timeout event', async (t) => {
  const mem = memoryTracing();
  const c = clock();
  const { store, engine } = rig(t, yaml, { tracing: mem.tracing, env: c.env });
  const { state } = await engine.start({ saga: 'bounded', input: {}, correlationId: 'c-5' });
  c.set(T0 + 2_500);
  const due = await engine.deps.store.claimDueTimers(T0 + 2_500, 10, 10_000);
  t.same(due.map((r) => r.data.kind), ['child_timeout'], 'the child\'s run outlived the step\'s timeout');
  for (const row of due) await engine.fire(row);
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps['kid']?.status, 'timed_out');
  const span = spansOf(mem.exporter, state.id, 'step kid')[0];
  t.equal(span?.attributes['saga.outcome'], 'timed_out');
  t.same(span?.events.map((e) => e.name), ['timeout'], 'its timer fired, as a command\'s attempt timeout says');
  t.same(times(span), { start: T0, end: T0 + 2_500 });
});
