import type { PublishItem, PublishResult } from '../transport/publish.js';
import type { OutboxRow } from '../store/index.js';
import { fault } from './fault.js';

export interface RelaySource {
  unsent(limit: number): OutboxRow[];
  markSent(seqs: number[], at: number): void;
}

export type Publisher = (items: readonly PublishItem[]) => Promise<PublishResult[]>;

const BATCH = 256;
/** Committed rows held in memory at most; past that the relay reads them back from the table. */
const MAX_QUEUED = 10_000;
/** How often acknowledged rows are marked sent, in one small transaction without an fsync. */
const MARK_EVERY_MS = 100;
/** With nothing to do, the table is read this often anyway, in case a row was not handed over. */
const IDLE_SCAN_MS = 5_000;

/**
 * Publishes outbox rows in order, pipelined, and marks a row sent only after JetStream
 * acknowledged it; unacknowledged rows are retried with backoff (at-least-once, stable ids).
 *
 * The engine hands over the rows of each commit (`push`), so the relay need not read back
 * what was just written. The table is read instead at start, after a failed publish, when
 * more than 10,000 rows wait, and every 5 s of idleness: whenever rows may exist that the
 * queue does not hold. Marks are written every 100 ms rather than after each batch, off the
 * path of the next input; a mark lost in a crash only sends that row again, which JetStream
 * and the participants drop as a duplicate (DESIGN section 1, point 5).
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private pending = false;
  private failures = 0;
  private queue: OutboxRow[] = [];
  /** The table may hold unsent rows the queue does not. */
  private scan = true;
  private publishing = false;
  private acked: number[] = [];
  private markTimer: NodeJS.Timeout | null = null;
  /** Marking failed last time: a full disk fails it every 100 ms, and saying so once is enough. */
  private marksFailing = false;

  constructor(private readonly source: RelaySource, private readonly publish: Publisher, private readonly onError: (err: unknown) => void) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Rows of a commit, in seq order, to publish after the ones already handed over. */
  push(rows: readonly OutboxRow[]): void {
    if (rows.length === 0) return;
    if (!this.scan) {
      if (this.queue.length + rows.length > MAX_QUEUED) this.rescan();
      else this.queue.push(...rows);
    }
    this.poke();
  }

  /** Something may wait in the table. */
  poke(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Stops after the batch in hand; with `flushMs`, first keeps publishing until empty or that long passed. */
  async stop(flushMs = 0): Promise<void> {
    const deadline = Date.now() + flushMs;
    while (flushMs > 0 && Date.now() < deadline && this.failures === 0 && this.busy()) {
      this.poke();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.running = false;
    this.wake?.();
    await this.loop;
    this.writeMarks();
  }

  /** Rows are queued, in flight, or unsent in the table. */
  private busy(): boolean {
    if (this.publishing || this.queue.length > 0) return true;
    this.writeMarks();
    return this.source.unsent(1).length > 0;
  }

  private rescan(): void {
    this.scan = true;
    this.queue = [];
  }

  /** The next batch: from the queue, or from the table when it may hold more. */
  private next(): OutboxRow[] {
    if (!this.scan) return this.queue.splice(0, BATCH);
    // Marked first, so that rows already acknowledged are not read back as unsent.
    this.writeMarks();
    const rows = this.source.unsent(BATCH);
    if (rows.length < BATCH) {
      // Every committed row not yet acknowledged is in hand: later ones arrive by push.
      this.scan = false;
      this.queue = [];
    }
    return rows;
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.pending = false;
      let rows: OutboxRow[];
      try {
        rows = this.next();
      } catch (err) {
        this.onError(err);
        await this.idle(1000);
        continue;
      }
      if (rows.length === 0) {
        if (!(await this.idle(this.failures > 0 ? 1000 : IDLE_SCAN_MS))) this.rescan();
        continue;
      }
      let results: PublishResult[];
      this.publishing = true;
      try {
        results = await this.publish(rows.map((r) => ({ subject: r.subject, data: r.data, headers: { ...r.headers }, msgId: r.messageId })));
      } catch (err) {
        results = rows.map(() => ({ ok: false as const, error: err instanceof Error ? err : new Error(String(err)) }));
      } finally {
        this.publishing = false;
      }
      const marked = this.acked.length;
      rows.forEach((r, i) => {
        if (results[i]?.ok === true) this.acked.push(r.seq);
      });
      if (this.acked.length > marked) fault('after-publish-before-mark');
      this.scheduleMarks();
      const failed = results.find((r) => !r.ok);
      if (failed !== undefined && !failed.ok) {
        // What failed, and anything queued after it, is read back from the table.
        this.rescan();
        this.failures++;
        this.onError(failed.error);
        await this.idle(Math.min(5000, 100 * 2 ** Math.min(this.failures, 6)));
      } else {
        this.failures = 0;
      }
    }
  }

  private scheduleMarks(): void {
    if (this.markTimer !== null || this.acked.length === 0) return;
    this.markTimer = setTimeout(() => {
      this.markTimer = null;
      this.writeMarks();
    }, MARK_EVERY_MS);
  }

  private writeMarks(): void {
    if (this.markTimer !== null) {
      clearTimeout(this.markTimer);
      this.markTimer = null;
    }
    if (this.acked.length === 0) return;
    const seqs = this.acked;
    this.acked = [];
    try {
      this.source.markSent(seqs, Date.now());
      this.marksFailing = false;
    } catch (err) {
      this.acked = seqs.concat(this.acked);
      if (!this.marksFailing) this.onError(new Error(`marking ${seqs.length} published rows sent failed (tried again every ${MARK_EVERY_MS} ms, reported once): ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      this.marksFailing = true;
      this.scheduleMarks();
    }
  }

  /** Waits for a poke or stop (true), or `ms` (false). */
  private idle(ms: number): Promise<boolean> {
    if (this.pending || !this.running) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => done(false), ms);
      const done = (woken: boolean) => {
        clearTimeout(t);
        this.wake = null;
        resolve(woken);
      };
      this.wake = () => done(true);
    });
  }
}
