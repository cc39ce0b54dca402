/** Two successive changes of one instance in one write become one (engine/runtime/linked.ts): an adapter checks each change against the stored version. */
import t from 'tap';
import type { InstanceState } from '../../engine/core/index.js';
import { mergeChanges } from '../../engine/runtime/linked.js';
import type { InstanceChange } from '../../engine/store/port.js';

const state = (version: number) => ({ id: 'i1', version }) as unknown as InstanceState;
const change = (expectedVersion: number, events: number, over: Partial<InstanceChange> = {}): InstanceChange => ({
  expectedVersion, state: state(expectedVersion + events),
  events: Array.from({ length: events }, (_, i) => ({ type: 'StepSkipped', at: i, step: `s${expectedVersion + i}` })),
  outbox: [], timers: { put: [], cancel: [] }, commands: [], waits: { put: [], remove: [] }, ...over,
});

t.test('events, outbox and commands in order; the later change\'s state; the first change\'s expected version', (t) => {
  const a = change(3, 2, { commands: [{ commandId: 'c1', step: 'x', kind: 'do' }] });
  const b = change(5, 1, { commands: [{ commandId: 'c2', step: 'y', kind: 'undo' }] });
  const m = mergeChanges(a, b);
  t.equal(m.expectedVersion, 3);
  t.equal(m.state.version, 6);
  t.same(m.events.map((e) => (e as { step: string }).step), ['s3', 's4', 's5']);
  t.same(m.commands.map((c) => c.commandId), ['c1', 'c2']);
  t.throws(() => mergeChanges(a, change(4, 1)), /does not follow/, 'a change that does not follow the first is a bug');
  t.end();
});

t.test('a timer armed then cancelled is not armed; cancelled then armed again is armed; waits alike', (t) => {
  const timer = (id: string) => ({ timerId: id, dueAt: 1, data: { kind: 'deadline' as const } });
  const a = change(1, 1, { timers: { put: [timer('delay:a'), timer('deadline')], cancel: ['retry:b:1'] }, waits: { put: [{ step: 'w', subject: 's', type: 'T', correlationId: null }], remove: ['v'] } });
  const b = change(2, 1, { timers: { put: [timer('retry:b:1')], cancel: ['delay:a'] }, waits: { put: [{ step: 'v', subject: 's', type: 'U', correlationId: 'c' }], remove: ['w'] } });
  const m = mergeChanges(a, b);
  t.same(m.timers.put.map((x) => x.timerId).sort(), ['deadline', 'retry:b:1']);
  t.same(m.timers.cancel, ['delay:a']);
  t.same(m.waits.put.map((x) => x.step), ['v']);
  t.same(m.waits.remove, ['w']);
  t.end();
});
