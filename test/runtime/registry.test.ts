import { join } from 'node:path';
import t from 'tap';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { silentLog, type LogFn } from '../../engine/log.js';
import { openSqlitePort } from '../../engine/store/sqlite-port.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * The registry decides what sagad subscribes to and publishes on, which saga an event
 * starts, and which definition a running instance keeps (DESIGN section 1, point 7).
 */
const TEXT = `
version: 1
sagas:
  - name: alpha
    start: { on: { subject: a.orders, type: Placed } }
    defaults: { timeout: 1m }
    steps:
      - name: one
        command: { subject: a.commands, type: Do, payload: {} }
        reply: { subject: a.events, success: [Done] }
        compensate:
          command: { subject: undo.commands, type: Undo, payload: {} }
          reply: { subject: undo.events, success: [Undone] }
      - name: hold
        wait: { subject: signals.events, type: Go }
        timeout: 1h
      - name: last
        command: { subject: z.commands, type: Do, payload: {} }
        reply: { subject: z.events, success: [Done] }
        pivot: true
  - name: beta
    start: { on: { subject: a.orders, type: Placed } }
    defaults: { timeout: 1m }
    steps:
      - name: only
        command: { subject: b.commands, type: Do, payload: {} }
        reply: { subject: b.events, success: [Done] }
        pivot: true
  - name: gamma
    defaults: { timeout: 1m }
    steps:
      - name: only
        command: { subject: b.commands, type: Do, payload: {} }
        reply: { subject: b.events, success: [Done] }
        pivot: true
`;

t.test('subjects in and out: replies, compensation replies, waits and triggers; commands, compensations and lifecycle events', async (t) => {
  const r = new Registry(sagasOf(TEXT));
  t.same(r.inboundSubjects(), ['a.events', 'a.orders', 'b.events', 'signals.events', 'undo.events', 'z.events'], 'sorted, each once');
  t.same(r.outboundSubjects(), ['a.commands', 'b.commands', 'sagas.events', 'undo.commands', 'z.commands']);
});

t.test('an event starts every saga triggered by its subject and type, and nothing else', async (t) => {
  const r = new Registry(sagasOf(TEXT));
  t.same(r.triggeredBy('a.orders', 'Placed').map((s) => s.name), ['alpha', 'beta']);
  t.same(r.triggeredBy('a.orders', 'Cancelled'), [], 'same subject, other type');
  t.same(r.triggeredBy('b.orders', 'Placed'), [], 'same type, other subject');
  t.same(r.all().map((s) => s.name), ['alpha', 'beta', 'gamma']);
  t.equal(r.current('gamma')?.name, 'gamma');
  t.equal(r.current('delta'), undefined);
});

t.test('a pinned definition is found by hash and adds its subjects, but is not current', async (t) => {
  const [older] = sagasOf(TEXT.replace('a.commands', 'old.commands').replace('a.events', 'old.events'));
  const current = sagasOf(TEXT);
  if (older === undefined) throw new Error('no saga');
  const r = new Registry(current);
  t.equal(r.byDefinitionHash(older.hash), undefined);
  r.pin(older);
  t.equal(r.byDefinitionHash(older.hash), older);
  t.equal(r.current('alpha'), current[0], 'new starts still use the current one');
  t.ok(r.inboundSubjects().includes('old.events') && r.inboundSubjects().includes('a.events'), 'replies to both are consumed');
  t.ok(r.outboundSubjects().includes('old.commands'));
  t.equal(r.all().length, 3, 'a pinned definition is not listed as current');

  // Pinning a hash that is already loaded keeps the loaded definition.
  const same = sagasOf(TEXT)[0];
  if (same === undefined) throw new Error('no saga');
  r.pin(same);
  t.equal(r.byDefinitionHash(same.hash), current[0]);
});

t.test('pinDefinitionsInUse brings back, once, the definition running instances were started with', async (t) => {
  const store = await openSqlitePort(join(t.testdir(), 'r.db'));
  t.teardown(() => store.close());
  const first = sagasOf(TEXT);
  const engine = new Engine({ store, registry: new Registry(first), log: silentLog });
  await engine.rememberDefinitions();
  const a = await engine.start({ saga: 'gamma', input: {} });
  const b = await engine.start({ saga: 'gamma', input: {} });
  t.equal(a.state.definitionHash, b.state.definitionHash);

  const logged: { msg: string; fields: unknown }[] = [];
  const log: LogFn = (_level, msg, fields) => { logged.push({ msg, fields }); };
  const same = new Registry(sagasOf(TEXT));
  await new Engine({ store, registry: same, log }).pinDefinitionsInUse();
  t.same(logged, [], 'the running definition is loaded: nothing to pin');

  const changed = new Registry(sagasOf(TEXT.replaceAll('b.commands', 'b2.commands')));
  t.equal(changed.byDefinitionHash(a.state.definitionHash), undefined);
  await new Engine({ store, registry: changed, log }).pinDefinitionsInUse();
  t.equal(changed.byDefinitionHash(a.state.definitionHash)?.hash, a.state.definitionHash, 'recompiled from the stored source');
  t.ok(changed.outboundSubjects().includes('b.commands') && changed.outboundSubjects().includes('b2.commands'));
  t.same(logged, [{ msg: 'loaded a stored definition other than the current one, for instances that may still take an input', fields: { saga: 'gamma', hash: a.state.definitionHash } }], 'one pin for the two instances');
});

t.test('awaits: a wait step of a loaded or pinned definition on that subject and type; not a reply, not another type or subject', async (t) => {
  const r = new Registry(sagasOf(TEXT));
  t.equal(r.awaits('signals.events', 'Go'), true, 'alpha\'s wait');
  t.equal(r.awaits('signals.events', 'Stop'), false, 'another type on its subject');
  t.equal(r.awaits('other.events', 'Go'), false, 'its type on another subject');
  t.equal(r.awaits('a.events', 'Done'), false, 'a command step\'s reply is not awaited by a wait');
  t.equal(r.awaits('a.orders', 'Placed'), false, 'nor a trigger');
  const later = sagasOf(`
version: 1
sagas:
  - name: delta
    defaults: { timeout: 1m }
    steps:
      - name: approve
        wait: { subject: d.approvals, type: Approved }
        timeout: 1h
      - name: last
        command: { subject: d.commands, type: Do, payload: {} }
        reply: { subject: d.events, success: [Done] }
        pivot: true
`);
  const pinned = new Registry([]);
  t.equal(pinned.awaits('d.approvals', 'Approved'), false);
  pinned.pin(later[0]!);
  t.equal(pinned.awaits('d.approvals', 'Approved'), true, 'a pinned definition\'s wait counts, though not current');
  t.equal(pinned.awaits('d.approvals', 'Rejected'), false);
});

t.test('answers asked before a reload or a pin are asked again after it', async (t) => {
  const r = new Registry(sagasOf(TEXT));
  t.same(r.triggeredBy('a.orders', 'Placed').map((s) => s.name), ['alpha', 'beta']);
  t.equal(r.awaits('signals.events', 'Go'), true);
  r.replace(sagasOf(TEXT.replace('type: Placed } }', 'type: Booked } }').replace('type: Go', 'type: Went')));
  t.same(r.triggeredBy('a.orders', 'Placed').map((s) => s.name), ['beta'], 'the reloaded alpha starts on Booked now');
  t.same(r.triggeredBy('a.orders', 'Booked').map((s) => s.name), ['alpha']);
  t.equal(r.awaits('signals.events', 'Go'), true, 'the earlier alpha stays loaded by hash for its instances');
  t.equal(r.awaits('signals.events', 'Went'), true);
  const list = r.triggeredBy('a.orders', 'Booked');
  list.pop();
  t.equal(r.triggeredBy('a.orders', 'Booked').length, 1, 'a caller changing its list changes no later answer');
  t.equal(r.awaits('signals.events Go', ''), false, 'subject and type are not run together');
});
