import { setTimeout as sleep } from 'node:timers/promises';
import type { ArchiveWriter } from '../archive/writer.js';
import { fault } from '../fault.js';
import type { LogFn } from '../log.js';
import type { StorePort } from '../store/port.js';
import type { RetireCursor } from '../store/retention.js';

/** ms the pass pauses after a batch per ms the batch held the event loop: retention takes at most 1/(1+this) of it. */
export const PAUSE_PER_BUSY_MS = 3;

/**
 * The longest delay `setTimeout` takes (2^31-1 ms, about 24.8 days): Node runs a longer one
 * after 1 ms, with a warning. A longer `SAGA_RETENTION_INTERVAL` waits this long instead: the
 * pass that comes early is harmless, it retires only what is past `SAGA_RETENTION` anyway.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** Options of {@link RetentionService}. */
export interface RetentionOptions {
  /** Finished instances older than this are archived and deleted; null: none. */
  readonly retentionMs: number | null;
  /**
   * SAGA_LATE_SUCCESS_WINDOW: a compensated instance may be reopened by a late success for so
   * long after it ended, so it is kept at least that long whatever `retentionMs` says.
   */
  readonly lateSuccessWindowMs?: number | null;
  /** Dead letters older than this are deleted; null: none. */
  readonly dlqRetentionMs: number | null;
  /** Longest time between the end of one pass and the start of the next. */
  readonly intervalMs: number;
  /** Instances per batch (one archive member, one delete transaction). */
  readonly batch: number;
  readonly archive: ArchiveWriter;
  readonly log: LogFn;
  readonly now?: () => number;
  /** Waits between two batches; `setTimeout` by default (tests record the pauses). */
  readonly pause?: (ms: number) => Promise<unknown>;
}

/** What one pass did. */
export interface PassResult {
  readonly archived: number;
  readonly deleted: number;
  readonly deadLetters: number;
  readonly batches: number;
  /** Compressed bytes appended to the archive. */
  readonly bytes: number;
}

/**
 * The periodic retention pass: finished instances past `SAGA_RETENTION` go to the archive,
 * which is synced, and only then are they deleted (a crash in between archives them twice,
 * which readers fold into one, and loses none). It works in small batches with a pause as
 * three times as long as the batch held the event loop between them, so inputs are never
 * held up by more than one batch and retention takes at most a quarter of the event loop; with
 * SQLite each delete is one more write of the group commit, with PostgreSQL replicas take
 * disjoint batches.
 */
export class RetentionService {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PassResult> | null = null;
  private stopping = false;
  private readonly now: () => number;
  private readonly pause: (ms: number) => Promise<unknown>;

  constructor(private readonly store: StorePort, private readonly opts: RetentionOptions) {
    this.now = opts.now ?? Date.now;
    this.pause = opts.pause ?? sleep;
  }

  /** Runs a pass soon, then one at most `intervalMs` after each pass ends. */
  start(): void {
    if (this.opts.retentionMs === null && this.opts.dlqRetentionMs === null) return;
    this.schedule(1_000);
  }

  /** Stops scheduling and waits for the batch in hand; the archive file is closed. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await this.opts.archive.close();
  }

  /** One whole pass now (the bench and tests call it; the schedule calls it too). */
  pass(): Promise<PassResult> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      const began = this.now();
      this.pass().then((r) => {
        if (r.archived + r.deadLetters > 0) this.opts.log('info', 'retention pass', { ...r, ms: this.now() - began });
      }, (err: unknown) => {
        this.opts.log('error', 'retention pass failed; trying again at the next one', { error: err instanceof Error ? err.message : String(err) });
      }).finally(() => this.schedule(Math.max(0, this.opts.intervalMs - (this.now() - began))));
    }, Math.min(ms, MAX_TIMER_MS));
    this.timer.unref();
  }

  private async run(): Promise<PassResult> {
    const { retentionMs, dlqRetentionMs, batch } = this.opts;
    let archived = 0;
    let deleted = 0;
    let batches = 0;
    let bytes = 0;
    let deadLetters = 0;
    if (retentionMs !== null) {
      const now = this.now();
      // Retired earlier, a compensated instance would make a late success in the window
      // `unrelated` (acked, its step never compensated): DESIGN section 1, point 3.
      const before = { completed: now - retentionMs, compensated: now - Math.max(retentionMs, this.opts.lateSuccessWindowMs ?? 0) };
      const keep = async (b: Parameters<Parameters<StorePort['retire']>[2]>[0]): Promise<void> => {
        const r = await this.opts.archive.append(b);
        bytes += r.bytes;
        // Stryker disable next-line all: a fault point acts only with SAGA_FAULT set; the crash tests set it, on the built server (test/e2e/fault-*.test.ts)
        fault('after-archive-before-delete');
      };
      // The cursor goes past every instance read, kept or not: each is read once a pass.
      let after: RetireCursor | undefined;
      while (!this.stopping) {
        const r = await this.store.retire(before, batch, keep, after);
        archived += r.archived;
        deleted += r.deleted;
        batches += 1;
        if (r.next === null) break;
        after = r.next;
        // A pause three times as long as the batch held the event loop: retention takes at
        // most a quarter of it, inputs the rest, however large the backlog. At c100 the loop
        // is busy: a share of a half halved the load's throughput and so doubled its latency.
        // (Pausing for the batch's whole time would mostly wait out the archive's fsync, which
        // holds nothing up.)
        await this.pause(Math.min(1_000, PAUSE_PER_BUSY_MS * r.busyMs));
      }
    }
    if (dlqRetentionMs !== null) {
      const before = this.now() - dlqRetentionMs;
      while (!this.stopping) {
        const n = await this.store.pruneDeadLetters(before, batch);
        deadLetters += n;
        if (n < batch) break;
        await sleep(0);
      }
    }
    return { archived, deleted, deadLetters, batches, bytes };
  }
}
