import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SagaError } from '../errors.js';
import { fault } from '../fault.js';
import { messageFields, type LogFn } from '../log.js';
import type { DeadLetterReason } from '../metrics/registry.js';
import { isStoreUnavailable } from '../store/errors.js';
import type { StorePort } from '../store/port.js';
import type { InboundMessage, Verdict } from '../transport/consumer.js';
import { parseEnvelope } from '../transport/envelope.js';
import type { Engine } from './engine.js';

/** Failures that redelivering cannot mend: the message is parked at once. */
const PERMANENT = new Set(['SAGA_ERR_INVALID_MESSAGE', 'SAGA_ERR_INVALID_INPUT']);

/**
 * Turns each message from a subscribed subject into one input of the engine, and the answer
 * into a verdict: ack once its effects are durable (DESIGN section 1, point 4); a message that
 * can never be processed, or that keeps failing until its last delivery, is parked in the
 * dead-letter queue with the reason and its raw bytes, then acked; anything else is
 * redelivered with backoff.
 *
 * A failing store (PostgreSQL unreachable, a full disk, an I/O error) is not the message's
 * fault: were it naked, each failure would use up one of its deliveries, and a store down for
 * longer than they last would drop it. It is held instead (the consumer keeps telling
 * JetStream it is in progress) and tried again after a pause; a drain lets it go back to
 * JetStream, and it comes back after the restart.
 */
export function inboundHandler(engine: Engine, store: StorePort, log: LogFn): (msg: InboundMessage) => Promise<Verdict> {
  const count = (outcome: string) => engine.counters.messages.inc({ outcome });

  /** Runs `work` until the store lets it through (or sagad drains). */
  const despiteStore = async <T>(msg: InboundMessage, eventId: string | null, work: () => Promise<T>): Promise<T> => {
    for (let failures = 1; ; failures++) {
      try {
        return await work();
      } catch (err) {
        if (!isStoreUnavailable(err) || engine.draining) throw err;
        log('warn', 'the store failed; the message is held and tried again', {
          subject: msg.subject, ...(eventId === null ? {} : { eventId }), failures, error: err instanceof Error ? err.message : String(err), ...messageFields(msg.headers),
        });
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  };

  /**
   * Parks a message once: its delivery (subject, stream sequence, bytes) is remembered in the
   * inbox in the same transaction, so a redelivery after a crash before the ack is acked
   * without a second dead letter.
   */
  const park = async (msg: InboundMessage, eventId: string | null, reason: string, kind: DeadLetterReason): Promise<Verdict> => {
    const delivery = `dead-letter/${msg.subject}/${msg.streamSequence}/${createHash('sha256').update(msg.data).digest('hex').slice(0, 32)}`;
    const id = await despiteStore(msg, eventId, () => store.park({
      subject: msg.subject, reason, headers: msg.headers, data: msg.data, deliveryCount: msg.deliveryCount, at: Date.now(),
    }, delivery));
    fault('after-park-before-ack');
    if (id === null) return 'ack';
    count('dead_lettered');
    engine.counters.deadLettered.inc({ reason: kind });
    log('warn', 'message dead-lettered', { subject: msg.subject, reason, ...messageFields(msg.headers) });
    return 'ack';
  };

  return async (msg) => {
    const parsed = parseEnvelope(msg.data);
    if (!parsed.ok) return park(msg, null, parsed.reason, 'not_envelope');
    const e = parsed.envelope;
    try {
      const outcome = await despiteStore(msg, e.eventId, () => engine.receive({
        subject: msg.subject, eventId: e.eventId, eventType: e.eventType, correlationId: e.correlationId,
        causationId: e.causationId ?? '', aggregateId: e.aggregateId, version: e.version, payload: e.payload, envelope: e,
        trace: msg.headers, raw: { data: msg.data, headers: msg.headers },
      }));
      count(outcome);
      fault('after-commit-before-ack');
      return 'ack';
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (err instanceof SagaError && PERMANENT.has(err.code)) return park(msg, e.eventId, why, err.code === 'SAGA_ERR_INVALID_INPUT' ? 'invalid_input' : 'invalid_message');
      if (msg.lastAttempt) return park(msg, e.eventId, `failed on its last delivery (${msg.deliveryCount}): ${why}`, 'max_deliveries');
      log('warn', 'message failed; it will be redelivered', { subject: msg.subject, eventId: e.eventId, error: why, ...messageFields(msg.headers) });
      return { nakDelayMs: Math.min(30_000, 500 * 2 ** msg.deliveryCount) };
    }
  };
}
