import { setTimeout as sleep } from 'node:timers/promises';
import { SagaError } from '../errors.js';
import { StoreErrorCode } from '../store/errors.js';
import type { StorePort } from '../store/port.js';
import type { LogFn } from '../log.js';
import type { InboundMessage, Verdict } from '../transport/consumer.js';
import { parseEnvelope } from '../transport/envelope.js';
import type { Engine } from './engine.js';

/** Failures that redelivering cannot mend: the message is parked at once. */
const PERMANENT = new Set(['SAGA_ERR_INVALID_MESSAGE', 'SAGA_ERR_INVALID_INPUT']);

const storeDown = (err: unknown) => err instanceof SagaError && err.code === StoreErrorCode.StoreUnavailable;

/**
 * Turns each message from a subscribed subject into one input of the engine, and the answer
 * into a verdict: ack once its effects are durable (DESIGN section 1, point 4); a message that
 * can never be processed, or that keeps failing until its last delivery, is parked in the
 * dead-letter queue with the reason and its raw bytes, then acked; anything else is
 * redelivered with backoff. While the store is unreachable, a message is held (the consumer
 * keeps it from being redelivered) and tried again until the store answers, so an outage
 * longer than the redeliveries allowed loses nothing; a drain lets it go back to JetStream.
 */
export function inboundHandler(engine: Engine, store: StorePort, log: LogFn): (msg: InboundMessage) => Promise<Verdict> {
  const count = (outcome: string) => engine.counters.inc('sagad_messages_total', 'Messages consumed, by outcome.', { outcome });
  const park = async (msg: InboundMessage, reason: string): Promise<Verdict> => {
    await store.park({ subject: msg.subject, reason, headers: msg.headers, data: msg.data, deliveryCount: msg.deliveryCount, at: Date.now() });
    count('dead_lettered');
    log('warn', 'message dead-lettered', { subject: msg.subject, reason });
    return 'ack';
  };
  return async (msg) => {
    const parsed = parseEnvelope(msg.data);
    if (!parsed.ok) return park(msg, parsed.reason);
    const e = parsed.envelope;
    const input = {
      subject: msg.subject, eventId: e.eventId, eventType: e.eventType, correlationId: e.correlationId,
      causationId: e.causationId ?? '', aggregateId: e.aggregateId, version: e.version, payload: e.payload, envelope: e,
    };
    for (let held = 0; ; held++) {
      try {
        count(await engine.receive(input));
        return 'ack';
      } catch (err) {
        if (!storeDown(err) || engine.draining) return failed(msg, e.eventId, err);
        if (held === 0) log('warn', 'the store is unavailable; holding the message until it answers', { subject: msg.subject, eventId: e.eventId });
        await sleep(Math.min(5_000, 250 * 2 ** Math.min(held, 5)));
      }
    }
  };

  /** A message that failed: parked when it can never succeed or this was its last delivery, else redelivered later. */
  async function failed(msg: InboundMessage, eventId: string, err: unknown): Promise<Verdict> {
    const why = err instanceof Error ? err.message : String(err);
    if (err instanceof SagaError && PERMANENT.has(err.code)) return park(msg, why);
    if (msg.lastAttempt) return park(msg, `failed on its last delivery (${msg.deliveryCount}): ${why}`);
    log('warn', 'message failed; it will be redelivered', { subject: msg.subject, eventId, error: why });
    return { nakDelayMs: Math.min(30_000, 500 * 2 ** msg.deliveryCount) };
  }
}
