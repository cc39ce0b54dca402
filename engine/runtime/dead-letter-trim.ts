import type { Metrics } from '../metrics/registry.js';
import type { DeadLetterCap } from '../store/dlq.js';
import type { StorePort } from '../store/port.js';
import type { throttledLog } from './log-throttle.js';

/**
 * Keeps the dead-letter queue under `cap` after a park (SAGA_DLQ_MAX, SAGA_DLQ_MAX_BYTES): the
 * oldest letters go, counted in `sagad_dead_letters_dropped_total` and told through `warn` (a
 * throttled log: a flood costs one line per interval). Rejects when the store cannot trim; the
 * letter just parked is safe either way, and the next park trims again.
 */
export async function trimDeadLetters(
  store: Pick<StorePort, 'trimDead'>, cap: DeadLetterCap, counters: Pick<Metrics, 'deadLettersDropped'>, warn: ReturnType<typeof throttledLog>,
): Promise<void> {
  const { dropped, bytes } = await store.trimDead(cap);
  if (dropped === 0) return;
  counters.deadLettersDropped.inc(dropped);
  warn('warn', 'dead-letter queue full: the oldest letters were dropped', 'dropped', { dropped, bytes, maxRows: cap.maxRows, maxBytes: cap.maxBytes });
}
