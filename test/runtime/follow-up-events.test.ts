import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Env } from '../../engine/core/index.js';
import { uuidv7 } from '../../engine/ids.js';
import { silentLog } from '../../engine/log.js';
import { Engine, type Incoming } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openSqlitePort } from '../../engine/store/sqlite-port.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';

/**
 * A message that names one of sagad's commands as its cause is the reply to that command only
 * when it is a type the command awaits (engine/core/decide.ts `repliesTo`). A participant's follow-up event (`Settled` after `Charge`, with the charge
 * command as its causationId) is an event: the `wait` step after the command takes it.
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
      - name: settled
        wait: { subject: p.events, type: Settled }
        timeout: 1m
        compensate:
          command: { subject: p.commands, type: Unsettle, payload: {} }
          reply: { subject: p.events, success: [Unsettled] }
`);

async function world(t: Test) {
  const port = await openSqlitePort(join(t.testdir(), 'engine.db'));
  t.teardown(() => port.close());
  const env = (): Env => ({ now: Date.now(), newId: () => uuidv7(), random: Math.random });
  const engine = new Engine({ store: port, registry: new Registry(sagas), log: silentLog, env });
  await engine.rememberDefinitions();
  const message = (subject: string, type: string, correlationId: string, causationId: string): Incoming => {
    const eventId = uuidv7();
    return { subject, eventId, eventType: type, correlationId, causationId, aggregateId: 'a', version: 1, payload: { type }, envelope: { eventId } };
  };
  return { engine, message };
}

t.test('a follow-up event caused by a command is not its reply: the wait step takes it', async (t) => {
  const { engine, message } = await world(t);
  const { state } = await engine.start({ saga: 'pay', input: {}, correlationId: 'c-1' });
  const charge = state.steps.charge?.awaiting ?? '';
  t.equal(await engine.receive(message('p.events', 'Charged', 'c-1', charge)), 'reply');
  t.equal((await engine.getInstance(state.id))?.steps.settled?.status, 'running', 'the wait step waits');
  t.equal(await engine.receive(message('p.events', 'Settled', 'c-1', charge)), 'event', 'taken as an event');
  const after = await engine.getInstance(state.id);
  t.equal(after?.status, 'completed', 'the wait step took it and the saga completed');
  t.same(after?.steps.settled?.status, 'succeeded');
});

t.test('a follow-up event naming another instance\'s command is not a mismatched reply of that instance', async (t) => {
  const { engine, message } = await world(t);
  const a = (await engine.start({ saga: 'pay', input: {}, correlationId: 'c-a' })).state;
  const b = (await engine.start({ saga: 'pay', input: {}, correlationId: 'c-b' })).state;
  t.equal(await engine.receive(message('p.events', 'Charged', 'c-b', b.steps.charge?.awaiting ?? '')), 'reply');
  // Caused by a's command, carrying b's correlation id: a reply would be refused (SAGA_ERR_CORRELATION_MISMATCH).
  t.equal(await engine.receive(message('p.events', 'Settled', 'c-b', a.steps.charge?.awaiting ?? '')), 'event');
  t.equal((await engine.getInstance(b.id))?.status, 'completed', 'b\'s wait step took it');
  t.equal((await engine.getInstance(a.id))?.steps.charge?.status, 'running', 'a is untouched');
});

t.test('a reply type on another subject sagad consumes is still the reply', async (t) => {
  const { engine, message } = await world(t);
  const { state } = await engine.start({ saga: 'pay', input: {}, correlationId: 'c-1' });
  t.equal(await engine.receive(message('q.events', 'Charged', 'c-1', state.steps.charge?.awaiting ?? '')), 'reply');
  t.equal((await engine.getInstance(state.id))?.steps.charge?.status, 'succeeded');
});

t.test('replies to a compensation are matched by its own reply spec', async (t) => {
  const { engine, message } = await world(t);
  const { state } = await engine.start({ saga: 'pay', input: {}, correlationId: 'c-1' });
  t.equal(await engine.receive(message('p.events', 'Charged', 'c-1', state.steps.charge?.awaiting ?? '')), 'reply');
  await engine.cancel(state.id, 'test');
  const refund = (await engine.getInstance(state.id))?.steps.charge?.compensation?.awaiting ?? '';
  t.not(refund, '', 'the refund went out');
  t.equal(await engine.receive(message('p.events', 'Charged', 'c-1', refund)), 'unrelated', 'the do side\'s type naming the undo command is no reply of it');
  t.equal((await engine.getInstance(state.id))?.status, 'compensating');
  t.equal(await engine.receive(message('p.events', 'Refunded', 'c-1', refund)), 'reply');
  t.equal((await engine.getInstance(state.id))?.status, 'compensated');
});

t.test('a start with the id . or .. is refused: no URL path can name the instance afterwards', async (t) => {
  const { engine } = await world(t);
  for (const id of ['.', '..']) {
    await t.rejects(engine.start({ saga: 'pay', input: {}, id }), { code: 'SAGA_ERR_INVALID_INPUT', message: `id ${JSON.stringify(id)} cannot be named in a URL path (/v1/instances/${id}); choose another` });
  }
  t.match(await engine.start({ saga: 'pay', input: {}, id: '...' }), { created: true }, 'three dots are a name like any other');
});

t.test('a start whose id begins or ends with white space is refused: NATS headers would drop it, and two ids would be one to participants', async (t) => {
  const { engine } = await world(t);
  for (const id of [' dupA', 'dupA ', '\ufeffdupA', 'dupA\u00a0', ' ', '\u3000x']) {
    await t.rejects(engine.start({ saga: 'pay', input: {}, id }), {
      code: 'SAGA_ERR_INVALID_INPUT',
      message: `id ${JSON.stringify(id)} begins or ends with white space, which the NATS headers of its commands (Saga-Id, Idempotency-Key) drop: participants would take it for the id without it; trim it`,
    }, JSON.stringify(id));
  }
  t.match(await engine.start({ saga: 'pay', input: {}, id: 'dup A' }), { created: true }, 'white space inside an id is kept by the headers');
  t.same((await engine.listInstances({ limit: 10 })).items.map((i) => i.id), ['dup A'], 'nothing else was started');
});
