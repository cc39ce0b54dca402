import { createHash } from 'node:crypto';
import type { IncomingMessage } from '../core/index.js';
import { SagaError } from '../errors.js';
import { isStoreUnavailable } from '../store/index.js';
import { parseEnvelope, type Envelope } from '../transport/envelope.js';
import type { InboundMessage, Verdict } from '../transport/consumer.js';
import type { Engine } from './engine.js';
import { fault } from './fault.js';

const PERMANENT = new Set(['SAGA_ERR_INVALID_MESSAGE', 'SAGA_ERR_INVALID_INPUT']);

const count = (engine: Engine, outcome: string) =>
  engine.counters.inc('sagad_messages_total', 'Messages consumed, by outcome.', { outcome });

/**
 * Handles one message from a subscribed subject: a reply to a command, an event a `wait`
 * step awaits, or a trigger that starts sagas. Bad messages are dead-lettered with the reason
 * and their raw bytes; a message that keeps failing is dead-lettered on its last delivery.
 * The message is acknowledged only after its transaction committed (DESIGN section 1, point 4).
 */
export async function handleInbound(engine: Engine, msg: InboundMessage): Promise<Verdict> {
  const parsed = parseEnvelope(msg.data);
  if (!parsed.ok) return despiteStore(engine, msg, null, () => park(engine, msg, parsed.reason));
  try {
    await despiteStore(engine, msg, parsed.envelope.eventId, () => route(engine, msg.subject, parsed.envelope));
    fault('after-commit-before-ack');
    return 'ack';
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    // A message that can never be processed (bad reply payload, a trigger whose input fails
    // its schema or gives no key) is parked at once: redelivering it cannot help.
    if (err instanceof SagaError && PERMANENT.has(err.code)) return despiteStore(engine, msg, parsed.envelope.eventId, () => park(engine, msg, why));
    if (msg.lastAttempt) return despiteStore(engine, msg, parsed.envelope.eventId, () => park(engine, msg, `failed on its last delivery (${msg.deliveryCount}): ${why}`));
    engine.deps.log('warn', 'message failed; it will be redelivered', { subject: msg.subject, eventId: parsed.envelope.eventId, error: why });
    return { nakDelayMs: Math.min(30_000, 500 * 2 ** msg.deliveryCount) };
  }
}

/**
 * Runs `work` until the store lets it through. A failing store (disk full, I/O error) is not
 * the message's fault: were it naked, each failure would use up one of its deliveries, and a
 * store down for longer than they last would drop it. It is held instead (the consumer keeps
 * telling JetStream it is in progress) and tried again after a pause; when sagad drains, it
 * gives up and the message comes back after the restart.
 */
async function despiteStore<T>(engine: Engine, msg: InboundMessage, eventId: string | null, work: () => Promise<T>): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await work();
    } catch (err) {
      if (!isStoreUnavailable(err) || engine.draining) throw err;
      engine.deps.log('warn', 'the store failed; the message is held and tried again', {
        subject: msg.subject, ...(eventId === null ? {} : { eventId }), failures, error: err instanceof Error ? err.message : String(err),
      });
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** Math.min(failures, 6))));
    }
  }
}

/**
 * Parks a message once: its delivery (subject, stream sequence, bytes) is remembered in the
 * inbox in the same transaction, so a redelivery after a crash before the ack is acked
 * without a second dead letter.
 */
async function park(engine: Engine, msg: InboundMessage, reason: string): Promise<Verdict> {
  const { store } = engine.deps;
  const delivery = `dead-letter/${msg.subject}/${msg.streamSequence}/${createHash('sha256').update(msg.data).digest('hex').slice(0, 32)}`;
  const parked = await engine.inTx(() => {
    if (!store.remember(delivery, Date.now())) return false;
    store.park({ subject: msg.subject, reason, headers: msg.headers, data: msg.data, deliveryCount: msg.deliveryCount, at: Date.now() });
    return true;
  });
  fault('after-park-before-ack');
  if (!parked) return 'ack';
  count(engine, 'dead_lettered');
  engine.deps.log('warn', 'message dead-lettered', { subject: msg.subject, reason });
  return 'ack';
}

function toIncoming(e: Envelope): IncomingMessage {
  return {
    eventId: e.eventId, eventType: e.eventType, correlationId: e.correlationId, causationId: e.causationId ?? '',
    aggregateId: e.aggregateId, version: e.version, payload: e.payload,
  };
}

/** Routes an envelope inside one transaction; throws SAGA_ERR_INVALID_MESSAGE to dead-letter it. */
async function route(engine: Engine, subject: string, e: Envelope): Promise<void> {
  const { store, registry } = engine.deps;
  const outcome = await engine.inTx((): string => {
    // Recorded first, in one statement with the check; a failing input rolls it back.
    if (!store.remember(e.eventId, Date.now())) return 'duplicate';
    const m = toIncoming(e);
    let outcome = 'unrelated';
    const ref = e.causationId === null ? undefined : store.lookupCommand(e.causationId);
    const owner = ref === undefined ? undefined : store.getInstance(ref.instanceId);
    if (ref !== undefined && owner !== undefined) {
      const validate = engine.defOf(owner).schemas[`${e.eventType}@${e.version}`];
      const problem = validate?.(e.payload) ?? null;
      if (problem !== null) throw new SagaError('SAGA_ERR_INVALID_MESSAGE', `${e.eventType}@${e.version} does not match its schema: ${problem}`);
      engine.feed(owner.id, { type: 'ReplyReceived', message: m });
      outcome = 'reply';
    } else {
      for (const w of store.waiting(subject, e.eventType)) {
        const before = store.getInstance(w.instanceId);
        if (before === undefined) continue;
        const after = engine.feed(w.instanceId, { type: 'EventReceived', subject, message: m });
        if (after.version !== before.version) outcome = 'event';
      }
    }
    for (const def of registry.triggeredBy(subject, e.eventType)) {
      engine.startInTx({ saga: def.name, input: e.payload, correlationId: e.correlationId === '' ? undefined : e.correlationId, event: e, causationId: e.eventId });
      outcome = 'trigger';
    }
    return outcome;
  });
  count(engine, outcome);
}
