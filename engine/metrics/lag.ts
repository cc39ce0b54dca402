import type { JetStreamManager, MsgRequest } from '@nats-io/jetstream';
import type { LogFn } from '../log.js';
import type { Metrics } from './registry.js';

/** A durable consumer sagad reads, as the lag monitor asks JetStream about it. */
export interface WatchedConsumer {
  readonly stream: string;
  readonly durable: string;
  readonly subject: string;
}

/** One consumer's backlog: messages not yet delivered, delivered and not acked, and the oldest one's publish time. */
export interface Backlog {
  readonly pending: number;
  readonly ackPending: number;
  /** Epoch ms the oldest unacknowledged message was published; null when there is none. */
  readonly oldestAt: number | null;
}

/** Thresholds past which a consumer lags (`SAGA_LAG_MAX`, `SAGA_LAG_MAX_AGE`); undefined: no threshold. */
export interface LagLimits {
  readonly maxMessages: number | undefined;
  readonly maxAgeMs: number | undefined;
}

/** Reads one consumer's backlog. */
export type BacklogReader = (c: WatchedConsumer) => Promise<Backlog>;

/**
 * Reads backlogs from JetStream: the consumer's info gives the counts and its ack floor; the
 * first message on its subject after the ack floor is the oldest one not acknowledged, and
 * its time gives the age (one more request, made only when something waits).
 */
export function jetStreamBacklog(jsm: JetStreamManager): BacklogReader {
  return async (c) => {
    const info = await jsm.consumers.info(c.stream, c.durable);
    const pending = info.num_pending;
    const ackPending = info.num_ack_pending;
    if (pending + ackPending === 0) return { pending, ackPending, oldestAt: null };
    // `next_by_subj` (nats-server 2.9+) is missing from the client's type for this call, not from the server.
    const query = { seq: info.ack_floor.stream_seq + 1, next_by_subj: c.subject } as unknown as MsgRequest;
    const m = await jsm.streams.getMessage(c.stream, query);
    return { pending, ackPending, oldestAt: m === null ? null : m.time.getTime() };
  };
}

/** Pure: the thresholds a backlog is past, as sentences (empty: not lagging). */
export function lagReasons(b: Backlog, limits: LagLimits, now: number): string[] {
  const reasons: string[] = [];
  const waiting = b.pending + b.ackPending;
  if (limits.maxMessages !== undefined && waiting > limits.maxMessages) {
    reasons.push(`${waiting} messages not yet processed, more than SAGA_LAG_MAX=${limits.maxMessages}`);
  }
  const ageMs = b.oldestAt === null ? 0 : Math.max(0, now - b.oldestAt);
  if (limits.maxAgeMs !== undefined && ageMs > limits.maxAgeMs) {
    reasons.push(`the oldest waits since ${(ageMs / 1000).toFixed(1)} s, longer than SAGA_LAG_MAX_AGE=${limits.maxAgeMs / 1000} s`);
  }
  return reasons;
}

/**
 * Watches the backlog of each consumer sagad reads: sets the per-consumer gauges, logs one
 * warning when a consumer crosses `SAGA_LAG_MAX` or `SAGA_LAG_MAX_AGE` and one line when it is
 * back under both, and tells `/readyz` why. Lag never makes sagad not-ready: a sidecar that
 * falls behind needs time or more replicas, and a restart would only make it fall further.
 */
export class LagMonitor {
  private readonly lagging = new Map<string, string[]>();
  private readonly waiting = new Map<string, number>();

  constructor(
    private readonly consumers: readonly WatchedConsumer[],
    private readonly limits: LagLimits,
    private readonly read: BacklogReader,
    private readonly metrics: Metrics,
    private readonly log: LogFn,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads every consumer once; a consumer that cannot be read keeps its last figures. */
  async sample(): Promise<void> {
    await Promise.all(this.consumers.map(async (c) => {
      let b: Backlog;
      try {
        b = await this.read(c);
      } catch (err) {
        this.log('debug', 'could not read a consumer backlog', { consumer: c.durable, error: err instanceof Error ? err.message : String(err) });
        return;
      }
      this.waiting.set(c.durable, b.pending + b.ackPending);
      const now = this.now();
      const ageSeconds = b.oldestAt === null ? 0 : Math.max(0, now - b.oldestAt) / 1000;
      const reasons = lagReasons(b, this.limits, now);
      const was = this.lagging.get(c.durable);
      const fields = { consumer: c.durable, subject: c.subject, pending: b.pending, ackPending: b.ackPending, oldestAgeSeconds: ageSeconds };
      if (reasons.length > 0 && was === undefined) {
        this.log('warn', 'consumer lagging', { ...fields, reasons });
      } else if (reasons.length === 0 && was !== undefined) {
        this.log('info', 'consumer caught up', fields);
      }
      if (reasons.length > 0) this.lagging.set(c.durable, reasons);
      else this.lagging.delete(c.durable);
      this.metrics.consumer(c.durable, { pending: b.pending, ackPending: b.ackPending, oldestAgeSeconds: ageSeconds, lagging: reasons.length > 0 });
    }));
  }

  /** Messages on all consumers not yet processed, as of the last sample. */
  total(): number {
    let n = 0;
    for (const w of this.waiting.values()) n += w;
    return n;
  }

  /** The `/readyz` check: not ok, with every lagging consumer's reasons, while one lags (advisory: readiness ignores it). */
  check(): { ok: boolean; detail?: string } {
    if (this.lagging.size === 0) return { ok: true };
    const detail = [...this.lagging].map(([durable, reasons]) => `${durable}: ${reasons.join('; ')}`).join('; ');
    return { ok: false, detail: `lagging (sagad stays ready; see docs/metrics.md): ${detail}` };
  }
}
