/**
 * Span ids and reply links of attempt spans, where a `saga` step makes them hard: its attempt
 * is its child, whose one id both the step and its compensation (and an operator's retry of
 * that) are about, and a child may start and end inside another input's write. Two spans with
 * one trace id and span id are dropped or merged by backends; a reply's link belongs to the
 * attempt it answered only. The engine runs on a real SQLite file, without NATS; replies go
 * through the inbound handler.
 */
import t from 'tap';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { rig, type Rig } from '../runtime/engine-rig.js';
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
  - name: child
    defaults: { timeout: 1h, retry: { maxAttempts: 1 } }
    steps:
      - name: work
        command: { subject: b.commands, type: Work, payload: {} }
        reply: { subject: b.events, success: [Worked] }
        compensate:
          command: { subject: b.commands, type: Unwork, payload: {} }
          reply: { subject: b.events, success: [Unworked], retryable: [UnworkBusy] }
          retry: { maxAttempts: 1 }
  - name: instant
    defaults: { timeout: 1h, retry: { maxAttempts: 1 } }
    steps:
      - name: skipme
        when: "{% false %}"
        command: { subject: b.commands, type: Never, payload: {} }
        reply: { subject: b.events, success: [Nevered] }
        compensate:
          command: { subject: b.commands, type: Unnever, payload: {} }
          reply: { subject: b.events, success: [Unnevered] }
  - name: chain
    defaults: { timeout: 1h, retry: { maxAttempts: 2, initialInterval: 1s, jitter: none } }
    steps:
      - name: first
        command: { subject: a.commands, type: First, payload: {} }
        reply: { subject: a.events, success: [Firsted] }
        timeout: 1m
        compensate:
          command: { subject: a.commands, type: Unfirst, payload: {} }
          reply: { subject: a.events, success: [Unfirsted] }
      - name: kid
        saga: instant
        input: {}
      - name: finish
        command: { subject: a.commands, type: Finish, payload: {} }
        reply: { subject: a.events, success: [Finished] }
        compensate:
          command: { subject: a.commands, type: Unfinish, payload: {} }
          reply: { subject: a.events, success: [Unfinished] }
  - name: waiting
    defaults: { timeout: 1h, retry: { maxAttempts: 1 } }
    steps:
      - name: go
        wait: { subject: e.events, type: Go }
      - name: kid
        saga: instant
        input: {}
      - name: finish
        command: { subject: a.commands, type: Finish, payload: {} }
        reply: { subject: a.events, success: [Finished] }
        compensate:
          command: { subject: a.commands, type: Unfinish, payload: {} }
          reply: { subject: a.events, success: [Unfinished] }
`;

/** A `traceparent` a participant (or a publisher) put on its message. */
const SENDER = { traceId: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', spanId: 'bbbbbbbbbbbbbbbb' };
const senderHeaders = { traceparent: `00-${SENDER.traceId}-${SENDER.spanId}-01` };

/** The attempt spans (`step ...`, `compensate ...`) among the finished spans. */
function attemptSpans(spans: readonly ReadableSpan[]): ReadableSpan[] {
  return spans.filter((s) => s.name.startsWith('step ') || s.name.startsWith('compensate '));
}

/** `traceId/spanId` of the spans that share both with an earlier span. */
function repeatedIds(spans: readonly ReadableSpan[]): string[] {
  const ids = spans.map((s) => `${s.spanContext().traceId}/${s.spanContext().spanId}`);
  return ids.filter((x, i) => ids.indexOf(x) !== i);
}

/** The span ids a span links to. */
const linkedTo = (s: ReadableSpan | undefined) => s?.links.map((l) => l.context.spanId);

/** Replies on `subject` to the latest command on `commands`. */
async function reply(r: Rig, subject: string, commands: string, eventType: string, correlationId: string, headers?: Record<string, string>): Promise<void> {
  await r.deliver(subject, { eventType, correlationId, causationId: commandId(r.store, commands), payload: {} }, headers);
  await r.engine.settled();
}

/** Fires the instance's due timer of this kind and step (no timer service runs in the rig). */
async function fireTimer(r: Rig, instanceId: string, kind: string, step: string): Promise<void> {
  const rows = await r.engine.deps.store.claimDueTimers(Date.now() + 24 * 3_600_000, 100, 10_000);
  const row = rows.find((x) => x.instanceId === instanceId && x.data.kind === kind && 'step' in x.data && x.data.step === step);
  if (row === undefined) throw new Error(`no ${kind} timer of ${step} for ${instanceId}`);
  await r.engine.fire(row);
  await r.engine.settled();
}

t.test('a saga step\'s step span and its compensate span have span ids of their own', async (t) => {
  const mem = memoryTracing();
  const r = rig(t, yaml, { tracing: mem.tracing });
  const { state } = await r.engine.start({ saga: 'later', input: {}, correlationId: 'c-1' });
  await reply(r, 'a.events', 'a.commands', 'Firsted', 'c-1');
  await reply(r, 'b.events', 'b.commands', 'Worked', 'c-1');
  await reply(r, 'a.events', 'a.commands', 'NotFinished', 'c-1');
  await reply(r, 'b.events', 'b.commands', 'Unworked', 'c-1');
  t.equal(r.store.getInstance(state.id)?.steps['kid']?.compensation?.status, 'compensated', 'the child undid its work');
  const step = spansOf(mem.exporter, state.id, 'step kid');
  const comp = spansOf(mem.exporter, state.id, 'compensate kid');
  t.equal(step.length, 1);
  t.equal(comp.length, 1);
  t.not(step[0]?.spanContext().spanId, comp[0]?.spanContext().spanId, 'the step and its compensation differ');
  t.same(repeatedIds(attemptSpans(mem.exporter.getFinishedSpans())), [], 'no two attempt spans share a trace id and span id');
});

t.test('an operator\'s retry of a saga step\'s failed compensation: its span has an id of its own', async (t) => {
  const mem = memoryTracing();
  const r = rig(t, yaml, { tracing: mem.tracing });
  const { state } = await r.engine.start({ saga: 'later', input: {}, correlationId: 'c-2' });
  await reply(r, 'a.events', 'a.commands', 'Firsted', 'c-2');
  await reply(r, 'b.events', 'b.commands', 'Worked', 'c-2');
  await reply(r, 'a.events', 'a.commands', 'NotFinished', 'c-2');
  // The child's undo is busy and may not be tried again: the child fails, and so does the parent's compensation of the step.
  await reply(r, 'b.events', 'b.commands', 'UnworkBusy', 'c-2');
  t.equal(r.store.getInstance(state.id)?.status, 'failed', 'the parent waits for an operator');
  await r.engine.retry(state.id);
  await r.engine.settled();
  await reply(r, 'b.events', 'b.commands', 'Unworked', 'c-2');
  const comp = spansOf(mem.exporter, state.id, 'compensate kid');
  t.same(comp.map((s) => s.attributes['saga.outcome']), ['failed', 'compensated'], 'one span for each request to the child');
  t.same(comp.map((s) => s.attributes['saga.attempt']), [1, 1], 'the retry counts its attempts afresh');
  const ids = [...spansOf(mem.exporter, state.id, 'step kid'), ...comp].map((s) => s.spanContext().spanId);
  t.equal(new Set(ids).size, 3, 'the step, its compensation and the retried compensation: three span ids');
  t.same(repeatedIds(attemptSpans(mem.exporter.getFinishedSpans())), [], 'no two attempt spans share a trace id and span id');
});

t.test('a reply links the attempt it answered, not a saga step that ended in its write', async (t) => {
  const mem = memoryTracing();
  const r = rig(t, yaml, { tracing: mem.tracing });
  const { state } = await r.engine.start({ saga: 'chain', input: {}, correlationId: 'c-3' });
  await reply(r, 'a.events', 'a.commands', 'Firsted', 'c-3', senderHeaders);
  t.equal(r.store.getInstance(state.id)?.steps['kid']?.status, 'succeeded', 'the child started and completed in the reply\'s write');
  const first = spansOf(mem.exporter, state.id, 'step first')[0];
  t.same(linkedTo(first), [SENDER.spanId], 'step first links the reply that answered it');
  t.same(first?.links[0]?.attributes, { 'saga.link': 'reply' });
  t.same(linkedTo(spansOf(mem.exporter, state.id, 'step kid')[0]), [], 'step kid was answered by no reply');
});

t.test('an event that a wait step takes links no span its write ended', async (t) => {
  const mem = memoryTracing();
  const r = rig(t, yaml, { tracing: mem.tracing });
  const { state } = await r.engine.start({ saga: 'waiting', input: {}, correlationId: 'c-4' });
  await r.deliver('e.events', { eventType: 'Go', correlationId: 'c-4', payload: {} }, senderHeaders);
  await r.engine.settled();
  t.equal(r.store.getInstance(state.id)?.steps['kid']?.status, 'succeeded', 'the child started and completed in the event\'s write');
  t.same(linkedTo(spansOf(mem.exporter, state.id, 'step kid')[0]), [], 'the event is no reply to the saga step');
});

t.test('a success to an earlier attempt\'s command ends the attempt in flight, which links it', async (t) => {
  const mem = memoryTracing();
  const r = rig(t, yaml, { tracing: mem.tracing });
  const { state } = await r.engine.start({ saga: 'chain', input: {}, correlationId: 'c-5' });
  const firstCommand = commandId(r.store, 'a.commands');
  await fireTimer(r, state.id, 'attempt_timeout', 'first');
  await fireTimer(r, state.id, 'retry', 'first');
  t.not(commandId(r.store, 'a.commands'), firstCommand, 'a second attempt was sent');
  await r.deliver('a.events', { eventType: 'Firsted', correlationId: 'c-5', causationId: firstCommand, payload: {} }, senderHeaders);
  await r.engine.settled();
  const spans = spansOf(mem.exporter, state.id, 'step first');
  t.same(spans.map((s) => [s.attributes['saga.attempt'], s.attributes['saga.outcome']]), [[1, 'retry'], [2, 'succeeded']]);
  t.same(spans.map(linkedTo), [[], [SENDER.spanId]], 'the attempt the reply ended links it');
});
