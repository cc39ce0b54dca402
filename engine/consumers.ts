import type { Config } from './config.js';
import { SagaError } from './errors.js';
import type { LogFn } from './log.js';
import type { WatchedConsumer } from './metrics/lag.js';
import type { InboundHandler } from './runtime/inbound.js';
import type { NatsLink } from './transport/connection.js';
import { consume, type InboundMessage, type Subscription } from './transport/consumer.js';
import type { StreamKeeper } from './transport/stream-keeper.js';

/** What the consumers of the process need: main.ts builds them. */
export interface ConsumersDeps {
  readonly link: NatsLink;
  readonly handle: InboundHandler;
  readonly config: Pick<Config, 'natsPrefix' | 'maxDeliver' | 'maxMessageBytes'>;
  readonly ackWaitMs: number;
  readonly streams: StreamKeeper;
  /** Creates (or checks) the streams of these subjects, with the configured limits. */
  readonly setUpStreams: (subjects: readonly string[]) => Promise<Record<string, string>>;
  /** The consumers the lag monitor watches: each started one joins it. */
  readonly watched: WatchedConsumer[];
  /** Whether sagad drains: no consumer starts then. */
  readonly draining: () => boolean;
  readonly log: LogFn;
}

type Started = { readonly subject: string; readonly sub: Subscription };

/**
 * The durable consumers of the process, one per inbound subject: those of the definitions at
 * start, then those a reload or a definition pinned for an instance needs.
 */
export class Consumers {
  private readonly subs: Subscription[] = [];
  private readonly consumed = new Set<string>();

  constructor(private readonly deps: ConsumersDeps) {}

  /**
   * Ensures the streams of these subjects and consumes each inbound one not yet consumed; the
   * new ones come back. With `after` (a reload), the new consumers hand nothing to the engine
   * before it settles: true once the reloaded definitions are current, so that a trigger of a
   * new saga waiting in its stream starts it rather than being acked as unrelated; false when
   * the reload failed, and what they hold goes back to JetStream. When one consumer cannot
   * start, those this call started stop (once `after` settles), and a later call tries again.
   */
  async consume(inbound: readonly string[], outbound: readonly string[], known?: Record<string, string>, after?: Promise<boolean>): Promise<string[]> {
    const { handle } = this.deps;
    const streamOf = known ?? await this.deps.setUpStreams([...inbound, ...outbound]);
    this.deps.streams.know(streamOf);
    const fresh = inbound.filter((s) => !this.consumed.has(s));
    const handler = after === undefined ? handle : Object.assign(async (m: InboundMessage) => ((await after) ? handle(m) : 'nak' as const), {
      abandon: async (m: InboundMessage, why: string) => ((await after) ? handle.abandon(m, why) : 'nak' as const),
    });
    const mine: Started[] = [];
    try {
      for (const subject of fresh) mine.push(await this.consumeOne(subject, streamOf, handler));
    } catch (err) {
      // Not awaited: a consumer's stop waits for the messages in hand, which wait for `after`.
      for (const started of mine) this.forget(started);
      throw err;
    }
    return fresh;
  }

  /** Stops every consumer (a drain): each waits for the messages in hand. */
  async stopAll(): Promise<void> {
    await Promise.all(this.subs.map((s) => s.stop()));
  }

  private async consumeOne(subject: string, streamOf: Record<string, string>, handler: InboundHandler): Promise<Started> {
    const { link, config, streams, watched, log } = this.deps;
    if (this.deps.draining()) throw new SagaError('SAGA_ERR_NOT_READY', 'sagad is shutting down and starts no consumer');
    const stream = streamOf[subject];
    if (stream === undefined) throw new Error(`no stream for ${subject}`);
    this.consumed.add(subject);
    let sub: Subscription;
    try {
      sub = await consume(link, subject, handler, {
        stream, durablePrefix: config.natsPrefix, maxDeliver: config.maxDeliver, ackWaitMs: this.deps.ackWaitMs, expiresMs: 2000, concurrency: 256, batchSize: 256, log,
        onAbandoned: handler.abandon,
        // A pull of 256 big messages would hold 256 of them in memory at once: a pull brings 16 of the largest at most.
        maxBytes: 16 * config.maxMessageBytes,
        onStreamMissing: async () => {
          await streams.lost();
          return streams.streamOf(subject);
        },
      });
    } catch (err) {
      // Not consumed: the next reload tries it again.
      this.consumed.delete(subject);
      throw err;
    }
    this.subs.push(sub);
    watched.push({ stream, durable: sub.durable, subject });
    // A drain that began while it was being set up has taken its list of consumers already.
    if (this.deps.draining()) {
      this.forget({ subject, sub });
      throw new SagaError('SAGA_ERR_NOT_READY', 'sagad is shutting down and starts no consumer');
    }
    return { subject, sub };
  }

  /** Stops a consumer this call started and forgets it, so that a later call starts it again; not awaited. */
  private forget({ subject, sub }: Started): void {
    this.consumed.delete(subject);
    this.subs.splice(this.subs.indexOf(sub), 1);
    this.deps.watched.splice(this.deps.watched.findIndex((w) => w.durable === sub.durable), 1);
    void sub.stop().catch((err: unknown) => this.deps.log('error', `stopping the consumer of ${subject} failed`, { error: err instanceof Error ? err.message : String(err) }));
  }
}
