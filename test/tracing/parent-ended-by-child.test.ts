/**
 * A parent instance that its child's end moves (engine/runtime/linked.ts: the child's end is
 * decided for the parent in the child's own write) is traced as any other committed change:
 * its `saga` step's attempt span ends with the child, and its saga span is written when the
 * child's end ends the parent too. The engine runs on a real SQLite file, without NATS;
 * replies go through the inbound handler.
 */
import t from 'tap';
import { rig } from '../runtime/engine-rig.js';
import { commandId, memoryTracing, sagaSpanId, spansOf } from './memory.js';

const yaml = `
version: 1
sagas:
  - name: parent
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: kid
        saga: child
        input: { x: "{% $input.x %}" }
  - name: undoing
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: kid
        saga: child
        input: { x: "{% $input.x %}" }
      - name: finish
        command: { subject: a.commands, type: Finish, payload: {} }
        reply: { subject: a.events, success: [Finished], failure: [NotFinished] }
        compensate:
          command: { subject: a.commands, type: Unfinish, payload: {} }
          reply: { subject: a.events, success: [Unfinished] }
  - name: quick
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: kid
        saga: waiter
        input: {}
      - name: finish
        pivot: true
        command: { subject: a.commands, type: Finish, payload: {} }
        reply: { subject: a.events, success: [Finished], failure: [NotFinished] }
  - name: waiter
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: cw
        wait: { subject: e.events, type: Go }
  - name: child
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: work
        command: { subject: b.commands, type: Work, payload: { x: "{% $input.x %}" } }
        reply: { subject: b.events, success: [Worked], failure: [NoWork] }
        compensate:
          command: { subject: b.commands, type: Unwork, payload: {} }
          reply: { subject: b.events, success: [Unworked] }
`;

t.test('a parent that its child\'s completion completes: its step and saga spans are written', async (t) => {
  const mem = memoryTracing();
  const { store, engine, deliver } = rig(t, yaml, { tracing: mem.tracing });
  const { state } = await engine.start({ saga: 'parent', input: { x: 1 }, correlationId: 'c-1' });
  const childId = store.getInstance(state.id)?.steps['kid']?.awaiting ?? '';
  t.not(childId, '', 'the child started with its parent');
  const replyParent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  t.equal(await deliver('b.events', { eventType: 'Worked', correlationId: 'c-1', causationId: commandId(store, 'b.commands'), payload: {} }, { traceparent: replyParent }), 'ack');
  await engine.settled();
  const parent = store.getInstance(state.id);
  t.equal(parent?.status, 'completed', 'the child\'s end completed the parent');
  t.equal(spansOf(mem.exporter, childId, 'saga child').length, 1, 'the child\'s saga span is written (its own reply ended it)');
  t.same(spansOf(mem.exporter, childId, 'step work')[0]?.links.map((l) => l.context.spanId), ['00f067aa0ba902b7'], 'the child\'s step links the reply');

  const [saga, ...more] = spansOf(mem.exporter, state.id, 'saga parent');
  t.equal(more.length, 0, 'one saga span for the parent');
  t.match(saga?.attributes, { 'saga.outcome': 'completed', 'saga.instance.id': state.id }, 'the parent\'s saga span, completed');
  t.equal(saga?.spanContext().spanId, sagaSpanId(parent), 'with the id its trace context fixed');
  const step = spansOf(mem.exporter, state.id, 'step kid');
  t.equal(step.length, 1, 'one attempt span for the saga step');
  t.match(step[0]?.attributes, { 'saga.outcome': 'succeeded', 'saga.side': 'do', 'messaging.message.id': childId });
  t.equal(step[0]?.parentSpanContext?.spanId, sagaSpanId(parent), 'under the parent\'s saga span');
  t.same(step[0]?.links, [], 'not linked to the child\'s reply, which answered no command of the parent');
});

t.test('a parent whose step fails with its compensated child, and that compensates: its step and saga spans are written', async (t) => {
  const mem = memoryTracing();
  const { store, engine, deliver } = rig(t, yaml, { tracing: mem.tracing });
  const { state } = await engine.start({ saga: 'parent', input: { x: 2 }, correlationId: 'c-2' });
  await deliver('b.events', { eventType: 'NoWork', correlationId: 'c-2', causationId: commandId(store, 'b.commands'), payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.status, 'compensated', 'the compensated child compensated the parent');
  t.match(spansOf(mem.exporter, state.id, 'saga parent').map((s) => s.attributes['saga.outcome']), ['compensated'], 'the parent\'s saga span is written');
  t.match(spansOf(mem.exporter, state.id, 'step kid').map((s) => s.attributes['saga.outcome']), ['failed'], 'and its saga step\'s attempt, failed');
});

t.test('a parent whose compensation of a completed child ends with the child: its compensation and saga spans are written', async (t) => {
  const mem = memoryTracing();
  const { store, engine, deliver } = rig(t, yaml, { tracing: mem.tracing });
  const { state } = await engine.start({ saga: 'undoing', input: { x: 3 }, correlationId: 'c-3' });
  await deliver('b.events', { eventType: 'Worked', correlationId: 'c-3', causationId: commandId(store, 'b.commands'), payload: {} });
  await engine.settled();
  t.match(spansOf(mem.exporter, state.id, 'step kid').map((s) => s.attributes['saga.outcome']), ['succeeded'], 'the saga step ended with the child');
  await deliver('a.events', { eventType: 'NotFinished', correlationId: 'c-3', causationId: commandId(store, 'a.commands'), payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.status, 'compensating', 'the parent waits for its child to undo its work');
  await deliver('b.events', { eventType: 'Unworked', correlationId: 'c-3', causationId: commandId(store, 'b.commands'), payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.status, 'compensated');
  t.match(spansOf(mem.exporter, state.id, 'compensate kid').map((s) => s.attributes), [{ 'saga.outcome': 'compensated', 'saga.side': 'undo' }],
    'the compensation of the saga step ended with the child\'s');
  t.match(spansOf(mem.exporter, state.id, 'saga undoing').map((s) => s.attributes['saga.outcome']), ['compensated'], 'the parent\'s saga span is written');
});

t.test('a reply that makes a parent compensate a child with nothing to undo, all in one write: every span of the parent is written', async (t) => {
  const mem = memoryTracing();
  const { store, engine, deliver } = rig(t, yaml, { tracing: mem.tracing });
  const { state } = await engine.start({ saga: 'quick', input: {}, correlationId: 'c-4' });
  await deliver('e.events', { eventType: 'Go', correlationId: 'c-4', payload: {} });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.steps['finish']?.status, 'running', 'the child completed, and the parent went on');
  // The reply fails the pivot; the parent asks its child to compensate, which has nothing to undo and
  // is compensated at once, which compensates the parent: the parent's two decisions are one change.
  const participant = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
  await deliver('a.events', { eventType: 'NotFinished', correlationId: 'c-4', causationId: commandId(store, 'a.commands'), payload: {} },
    { traceparent: `00-${participant.traceId}-${participant.spanId}-01` });
  await engine.settled();
  t.equal(store.getInstance(state.id)?.status, 'compensated');
  const finish = spansOf(mem.exporter, state.id, 'step finish');
  t.match(finish.map((s) => s.attributes['saga.outcome']), ['failed'], 'the pivot\'s attempt span, failed');
  t.same(finish[0]?.links.map((l) => l.context.spanId), [participant.spanId], 'linked to the reply that ended it');
  t.match(spansOf(mem.exporter, state.id, 'compensate kid').map((s) => s.attributes), [{ 'saga.outcome': 'compensated', 'saga.attempt': 1 }],
    'the compensation of the saga step, begun and ended in the write');
  t.match(spansOf(mem.exporter, state.id, 'saga quick').map((s) => s.attributes['saga.outcome']), ['compensated'], 'the saga span');
});
