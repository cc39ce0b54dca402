import type { PublishItem, PublishResult } from '../transport/publish.js';
import type { OutboxRow } from '../store/index.js';

export interface RelaySource {
  unsent(limit: number): OutboxRow[];
  markSent(seqs: number[], at: number): void;
}

export type Publisher = (items: readonly PublishItem[]) => Promise<PublishResult[]>;

const BATCH = 256;

/**
 * Publishes outbox rows in order, pipelined, and marks a row sent only after JetStream
 * acknowledged it; unacknowledged rows are retried with backoff (at-least-once, stable ids).
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private pending = false;
  private failures = 0;

  constructor(private readonly source: RelaySource, private readonly publish: Publisher, private readonly onError: (err: unknown) => void) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New rows were committed. */
  poke(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Stops after the batch in hand; with `flushMs`, first keeps publishing until empty or that long passed. */
  async stop(flushMs = 0): Promise<void> {
    const deadline = Date.now() + flushMs;
    while (flushMs > 0 && Date.now() < deadline && this.source.unsent(1).length > 0 && this.failures === 0) {
      this.poke();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.pending = false;
      const rows = this.source.unsent(BATCH);
      if (rows.length === 0) {
        await this.idle(this.failures > 0 ? 1000 : 5000);
        continue;
      }
      let results: PublishResult[];
      try {
        results = await this.publish(rows.map((r) => ({ subject: r.subject, data: r.data, headers: { ...r.headers }, msgId: r.messageId })));
      } catch (err) {
        results = rows.map(() => ({ ok: false as const, error: err instanceof Error ? err : new Error(String(err)) }));
      }
      const sent = rows.filter((_, i) => results[i]?.ok === true).map((r) => r.seq);
      if (sent.length > 0) this.source.markSent(sent, Date.now());
      const failed = results.find((r) => !r.ok);
      if (failed !== undefined && !failed.ok) {
        this.failures++;
        this.onError(failed.error);
        await this.idle(Math.min(5000, 100 * 2 ** Math.min(this.failures, 6)));
      } else {
        this.failures = 0;
      }
    }
  }

  /** Waits for a poke, stop, or `ms`. */
  private idle(ms: number): Promise<void> {
    if (this.pending || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }
}
