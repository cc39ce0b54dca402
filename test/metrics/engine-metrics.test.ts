import { join } from 'node:path';
import t from 'tap';
import { loadDefinitionsText } from '../../engine/definitions/index.js';
import { uuidv7 } from '../../engine/ids.js';
import type { LogFn, LogLevel } from '../../engine/log.js';
import { Metrics } from '../../engine/metrics/registry.js';
import { Engine } from '../../engine/runtime/engine.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import type { InboundMessage } from '../../engine/transport/consumer.js';
import { encodeEnvelope, parseEnvelope } from '../../engine/transport/envelope.js';
import { parseExposition, valueOf } from '../helpers/exposition.js';

/**
 * The engine's metrics and log lines on a real SQLite store, without NATS: an instance that
 * ends `failed` is logged with its instance, saga and step and timed under `failed`; dead
 * letters are counted by reason.
 */
const DEFS = `version: 1
sagas:
  - name: refund
    start:
      on: { subject: refund.events, type: RefundAsked }
    steps:
      - name: hold
        command: { subject: hold.commands, type: Hold, payload: { id: "{% $input.id %}" } }
        reply: { subject: hold.events, success: [Held], failure: [NotHeld] }
        timeout: 1h
        compensate:
          command: { subject: hold.commands, type: Release, payload: { id: "{% $input.id %}" } }
          reply: { subject: hold.events, success: [Released], failure: [NotReleased] }
          timeout: 1h
          retry: { maxAttempts: 1 }
      - name: pay
        pivot: true
        command: { subject: pay.commands, type: Pay, payload: { id: "{% $input.id %}" } }
        reply: { subject: pay.events, success: [Paid], failure: [NotPaid] }
        timeout: 1h
        retry: { maxAttempts: unlimited }
    schemas:
      RefundAsked@1: { type: object, required: [id], properties: { id: { type: string } } }
      Held@1: { type: object, required: [hold], properties: { hold: { type: string } } }
`;
const loaded = loadDefinitionsText(DEFS, 'refund.yaml');
if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));

function setup(t: { testdir(): string; teardown(fn: () => void): void }) {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  t.teardown(() => store.close());
  const lines: { level: LogLevel; msg: string; fields: Record<string, unknown> }[] = [];
  const log: LogFn = (level, msg, fields = {}) => lines.push({ level, msg, fields });
  const metrics = new Metrics();
  const engine = new Engine({ store: sqlitePort(store), registry: new Registry(loaded.ok ? loaded.sagas : []), log, metrics });
  const handle = inboundHandler(engine, engine.deps.store, log);
  return { store, engine, lines, metrics, handle };
}

function message(subject: string, fields: { eventType: string; causationId?: string | null; correlationId?: string; payload: unknown }, over: Partial<InboundMessage> = {}): InboundMessage {
  const data = encodeEnvelope({
    eventId: uuidv7(), aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId: 'c', causationId: null, ...fields,
  } as Parameters<typeof encodeEnvelope>[0]);
  return { subject, data, headers: {}, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: 1, ...over };
}

/** The event id of the latest command on `subject` in the outbox. */
function lastCommandId(store: Store, subject: string): string {
  const row = store.unsent(1000).filter((r) => r.subject === subject).at(-1);
  const env = row === undefined ? null : parseEnvelope(row.data);
  if (env === null || !env.ok) throw new Error(`no command on ${subject}`);
  return env.envelope.eventId;
}

t.test('an instance whose compensation runs out of attempts: one warn line with instance, saga and step; timed as failed', async (t) => {
  const { store, engine, lines, metrics, handle } = setup(t);
  const started = await engine.start({ saga: 'refund', input: { id: 'r-1' } });
  const id = started.state.id;
  // Replies carry their command's correlation id back (DESIGN section 3).
  const correlationId = started.state.correlationId;
  t.equal(await handle(message('hold.events', { eventType: 'Held', causationId: lastCommandId(store, 'hold.commands'), correlationId, payload: { hold: 'h' } })), 'ack');
  t.equal(await handle(message('pay.events', { eventType: 'NotPaid', causationId: lastCommandId(store, 'pay.commands'), correlationId, payload: {} })), 'ack');
  // The release is refused; with one attempt allowed, the compensation fails and so does the instance.
  t.equal(await handle(message('hold.events', { eventType: 'NotReleased', causationId: lastCommandId(store, 'hold.commands'), correlationId, payload: {} })), 'ack');
  t.equal((await engine.getInstance(id))?.status, 'failed');
  const failed = lines.filter((l) => l.msg.startsWith('instance failed'));
  t.equal(failed.length, 1, 'one line');
  t.match(failed[0], { level: 'warn', fields: { instance: id, saga: 'refund', step: 'hold' } });
  const s = parseExposition(await metrics.render({ instances: [], timersPending: 0, outboxBacklog: 0, outboxOldestAt: null, deadLetters: 0, consumerLag: 0, now: 0 }));
  t.equal(valueOf(s, 'sagad_saga_duration_seconds_count', { saga: 'refund', outcome: 'failed' }), 1);
  t.equal(valueOf(s, 'sagad_compensation_duration_seconds_count', { saga: 'refund', step: 'hold', outcome: 'failed' }), 1);
  t.equal(valueOf(s, 'sagad_step_duration_seconds_count', { saga: 'refund', step: 'pay', outcome: 'failed' }), 1);
  t.equal(valueOf(s, 'sagad_compensations_started_total', { saga: 'refund', reason: 'step_failed' }), 1);
  t.equal(valueOf(s, 'sagad_instances_finished_total', { saga: 'refund', state: 'failed' }), 1);
  t.equal(valueOf(s, 'sagad_messages_total', { outcome: 'reply' }), 3);
});

t.test('dead letters are counted by reason, and the warn line names the message\'s saga headers and trace', async (t) => {
  const { store, engine, lines, metrics, handle } = setup(t);
  await handle({ ...message('refund.events', { eventType: 'x', payload: {} }), data: new TextEncoder().encode('{not json') });
  await handle(message('refund.events', { eventType: 'RefundAsked', payload: { id: 7 } }));
  const second = await engine.start({ saga: 'refund', input: { id: 'r-2' } });
  const headers = { 'Saga-Id': 'i-9', 'Saga-Name': 'refund', 'Saga-Step': 'hold', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
  await handle(message('hold.events', { eventType: 'Held', causationId: lastCommandId(store, 'hold.commands'), correlationId: second.state.correlationId, payload: {} }, { headers }));
  const s = parseExposition(await metrics.render({ instances: [], timersPending: 0, outboxBacklog: 0, outboxOldestAt: null, deadLetters: 0, consumerLag: 0, now: 0 }));
  t.equal(valueOf(s, 'sagad_dead_letters_total', { reason: 'not_envelope' }), 1);
  t.equal(valueOf(s, 'sagad_dead_letters_total', { reason: 'invalid_input' }), 1, 'a trigger that fails its schema');
  t.equal(valueOf(s, 'sagad_dead_letters_total', { reason: 'invalid_message' }), 1, 'a reply that fails its schema');
  t.equal(valueOf(s, 'sagad_messages_total', { outcome: 'dead_lettered' }), 3);
  const parked = lines.filter((l) => l.msg === 'message dead-lettered');
  t.equal(parked.length, 3);
  t.match(parked[2], { level: 'warn', fields: { subject: 'hold.events', instance: 'i-9', saga: 'refund', step: 'hold', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' } });
  t.notOk('instance' in (parked[0]?.fields ?? {}), 'no headers, no instance');
});
