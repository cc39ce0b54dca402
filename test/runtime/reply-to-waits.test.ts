import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Env } from '../../engine/core/index.js';
import { uuidv7 } from '../../engine/ids.js';
import type { LogFn } from '../../engine/log.js';
import { Engine, type Incoming } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openSqlitePort } from '../../engine/store/sqlite-port.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * A reply is an event on the bus like any other: besides the step of its command, the `wait`
 * steps of other instances that await it take it, in the same write (it used to reach its own
 * step only, and such a wait timed out). Its own instance takes it once, as the reply; an
 * instance whose wait has not started yet keeps it as an early event; another saga's schema
 * that refuses it does not dead-letter the reply.
 */
const sagas = sagasOf(`
version: 1
sagas:
  - name: pay
    timeout: 1h
    defaults: { timeout: 10s, retry: { maxAttempts: 1 } }
    steps:
      - name: charge
        command: { subject: p.commands, type: Charge, payload: {} }
        reply: { subject: p.events, success: [Charged], failure: [Declined] }
        compensate:
          command: { subject: p.commands, type: Refund, payload: {} }
          reply: { subject: p.events, success: [Refunded] }
  - name: audit
    timeout: 1h
    steps:
      - name: first
        command: { subject: a.commands, type: Prepare, payload: {} }
        reply: { subject: a.events, success: [Prepared] }
        timeout: 10s
        compensate:
          command: { subject: a.commands, type: Unprepare, payload: {} }
          reply: { subject: a.events, success: [Unprepared] }
      - name: seen
        wait: { subject: p.events, type: Charged }
        timeout: 1m
  - name: strict
    timeout: 1h
    schemas:
      Charged: { type: object, required: [receipt] }
    steps:
      - name: seen
        wait: { subject: p.events, type: Charged }
        timeout: 1m
  - name: strict-later
    timeout: 1h
    schemas:
      Charged: { type: object, required: [receipt] }
    steps:
      - name: first
        command: { subject: a.commands, type: Prepare, payload: {} }
        reply: { subject: a.events, success: [Prepared] }
        timeout: 10s
        compensate:
          command: { subject: a.commands, type: Unprepare, payload: {} }
          reply: { subject: a.events, success: [Unprepared] }
      - name: seen
        wait: { subject: p.events, type: Charged }
        timeout: 1m
`);

interface Line { level: string; msg: string; fields: Record<string, unknown> }

async function world(t: Test) {
  const port = await openSqlitePort(join(t.testdir(), 'engine.db'));
  t.teardown(() => port.close());
  const env = (): Env => ({ now: Date.now(), newId: () => uuidv7(), random: Math.random });
  const lines: Line[] = [];
  const log: LogFn = (level, msg, fields = {}) => void lines.push({ level, msg, fields });
  const engine = new Engine({ store: port, registry: new Registry(sagas), log, env });
  await engine.rememberDefinitions();
  const message = (subject: string, type: string, correlationId: string, causationId: string, payload: Record<string, unknown> = {}): Incoming => {
    const eventId = uuidv7();
    // The whole envelope: an early event is kept as it arrived, and read back when its wait starts.
    const envelope = { eventId, eventType: type, aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId, causationId, payload };
    return { subject, eventId, eventType: type, correlationId, causationId, aggregateId: 'a', version: 1, payload, envelope };
  };
  return { engine, message, lines, port };
}

t.test('a reply moves its own step and the running wait of another saga, in one write', async (t) => {
  const { engine, message } = await world(t);
  const audit = (await engine.start({ saga: 'audit', input: {}, correlationId: 'c-1' })).state;
  t.equal(await engine.receive(message('a.events', 'Prepared', 'c-1', audit.steps.first?.awaiting ?? '')), 'reply');
  t.equal((await engine.getInstance(audit.id))?.steps.seen?.status, 'running', 'audit waits for Charged');
  const pay = (await engine.start({ saga: 'pay', input: {}, correlationId: 'c-1' })).state;

  const charged = message('p.events', 'Charged', 'c-1', pay.steps.charge?.awaiting ?? '');
  t.equal(await engine.receive(charged), 'reply', 'it is still the reply');
  t.equal((await engine.getInstance(pay.id))?.status, 'completed', 'its own step took it');
  t.equal((await engine.getInstance(audit.id))?.status, 'completed', 'and the wait step of audit took it too');
  t.equal(await engine.receive(charged), 'duplicate', 'its redelivery changes neither');
});

t.test('its own instance takes it once, as the reply; a wait on another correlation id does not take it', async (t) => {
  const { engine, message } = await world(t);
  const other = (await engine.start({ saga: 'audit', input: {}, correlationId: 'c-other' })).state;
  await engine.receive(message('a.events', 'Prepared', 'c-other', other.steps.first?.awaiting ?? ''));
  const pay = (await engine.start({ saga: 'pay', input: {}, correlationId: 'c-1' })).state;
  t.equal(await engine.receive(message('p.events', 'Charged', 'c-1', pay.steps.charge?.awaiting ?? '')), 'reply');
  const after = await engine.getInstance(pay.id);
  t.equal(after?.status, 'completed');
  t.equal(after?.version, pay.version + 2, 'one StepSucceeded and SagaCompleted: the reply was applied once');
  t.equal((await engine.getInstance(other.id))?.steps.seen?.status, 'running', 'a wait for c-other goes on waiting');
});

t.test('a wait that has not started yet keeps the reply as an early event and takes it when it starts', async (t) => {
  const { engine, message } = await world(t);
  const audit = (await engine.start({ saga: 'audit', input: {}, correlationId: 'c-1' })).state;
  const pay = (await engine.start({ saga: 'pay', input: {}, correlationId: 'c-1' })).state;
  t.equal(await engine.receive(message('p.events', 'Charged', 'c-1', pay.steps.charge?.awaiting ?? '')), 'reply');
  t.equal((await engine.getInstance(pay.id))?.status, 'completed');
  t.equal((await engine.getInstance(audit.id))?.steps.first?.status, 'running', 'audit is still at its first step');
  t.equal(await engine.receive(message('a.events', 'Prepared', 'c-1', audit.steps.first?.awaiting ?? '')), 'reply');
  await engine.settled();
  t.equal((await engine.getInstance(audit.id))?.status, 'completed', 'its wait took the kept reply when it started');
});

t.test('a wait whose schema refuses the reply goes without it; the reply is not dead-lettered', async (t) => {
  const { engine, message, lines } = await world(t);
  const strict = (await engine.start({ saga: 'strict', input: {}, correlationId: 'c-1' })).state;
  const pay = (await engine.start({ saga: 'pay', input: {}, correlationId: 'c-1' })).state;
  t.equal(await engine.receive(message('p.events', 'Charged', 'c-1', pay.steps.charge?.awaiting ?? '')), 'reply');
  t.equal((await engine.getInstance(pay.id))?.status, 'completed', 'the reply completed its own saga');
  t.equal((await engine.getInstance(strict.id))?.steps.seen?.status, 'running', 'strict still waits');
  t.match(lines.filter((l) => l.msg === 'a reply was not given to a wait step whose schema refuses it'), [
    { level: 'warn', fields: { instance: strict.id, saga: 'strict', eventType: 'Charged', reply: pay.id, error: /receipt/ } },
  ]);
  t.equal(await engine.receive(message('p.events', 'Charged', 'c-1', '', { receipt: 'r-1' })), 'event', 'an event it accepts');
  t.equal((await engine.getInstance(strict.id))?.status, 'completed');
});

t.test('a copy kept for a wait not started yet is dead-lettered when that wait refuses it, as a kept event is; the reply stands', async (t) => {
  const { engine, message, port } = await world(t);
  const later = (await engine.start({ saga: 'strict-later', input: {}, correlationId: 'c-1' })).state;
  const pay = (await engine.start({ saga: 'pay', input: {}, correlationId: 'c-1' })).state;
  t.equal(await engine.receive(message('p.events', 'Charged', 'c-1', pay.steps.charge?.awaiting ?? '')), 'reply');
  t.equal((await engine.getInstance(pay.id))?.status, 'completed', 'the reply completed its own saga');
  t.same((await port.listDead({})).items, [], 'nothing dead-lettered yet');
  t.equal(await engine.receive(message('a.events', 'Prepared', 'c-1', later.steps.first?.awaiting ?? '')), 'reply');
  await engine.settled();
  t.match((await port.listDead({})).items, [{ reason: /Charged@1 does not match its schema/ }], 'its copy, when the wait started');
  t.equal((await engine.getInstance(later.id))?.steps.seen?.status, 'running', 'the wait goes on waiting');
});
