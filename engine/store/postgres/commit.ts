import type pg from 'pg';
import type { InputWrite, WriteOutcome } from '../port.js';
import { classify, isTransient } from './connect.js';
import { decodeOutcome, encodeBatch, prepareWrite, type PreparedWrite } from './encode.js';

interface Pending {
  readonly prepared: PreparedWrite;
  readonly resolve: (o: WriteOutcome) => void;
  readonly reject: (e: unknown) => void;
}

/** Settings of {@link GroupWriter}. */
export interface GroupWriterOptions {
  readonly snapshotEvery: number;
  /** Batches in flight at once: while they run the next one gathers; default 2 (the adapter passes 1). */
  readonly inFlight?: number;
  /** Largest batch; default 256. */
  readonly maxBatch?: number;
  /** Told after each batch committed: its size and the seconds its `sagad_apply` call took. */
  readonly onCommit?: ((size: number, seconds: number) => void) | undefined;
}


/**
 * The existing instances a batch changes or reads without changing: `sagad_apply` locks them
 * first, in id order, and compares their versions. A read instance is locked too: a write of
 * another replica that changes it waits for this batch, and then finds its version checked.
 */
function lockIds(batch: readonly Pending[]): string[] {
  const ids = new Set<string>();
  for (const p of batch) {
    for (const c of p.prepared.write.changes) if (c.expectedVersion > 0) ids.add(c.state.id);
    for (const r of p.prepared.write.reads ?? []) ids.add(r.instanceId);
  }
  return [...ids];
}

/**
 * Group commit over PostgreSQL: `commit` calls made while earlier batches are in flight wait
 * and go together in one `sagad_apply` call (one statement, one transaction, one round trip,
 * one WAL flush). Each write is still all or nothing on its own; its promise settles after
 * the batch's commit, so a message is acknowledged only once its write is durable.
 */
export class GroupWriter {
  private queue: Pending[] = [];
  private running = 0;
  private scheduled = false;
  private idle: (() => void)[] = [];
  private readonly inFlight: number;
  private readonly maxBatch: number;

  constructor(private readonly pool: pg.Pool, private readonly where: string, private readonly opts: GroupWriterOptions) {
    this.inFlight = Math.max(1, opts.inFlight ?? 2);
    this.maxBatch = Math.max(1, opts.maxBatch ?? 256);
  }

  /** Queues the write for the next batch; resolves with its outcome once that batch committed. */
  commit(write: InputWrite): Promise<WriteOutcome> {
    return new Promise<WriteOutcome>((resolve, reject) => {
      // A write that cannot be encoded fails alone, before it can fail a batch.
      this.queue.push({ prepared: prepareWrite(write, this.opts.snapshotEvery), resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once every write queued so far has settled. */
  settled(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  // Writes made in the same turn of the event loop join one batch.
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  // A long queue is shared among the free slots: two half batches run on two backends (two
  // cores) at once, where one whole batch would leave the other slot idle.
  private pump(): void {
    while (this.running < this.inFlight && this.queue.length > 0) {
      const share = Math.ceil(this.queue.length / (this.inFlight - this.running));
      const batch = this.take(Math.min(this.maxBatch, share));
      this.running += 1;
      void this.send(batch).finally(() => {
        this.running -= 1;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) for (const f of this.idle.splice(0)) f();
      });
    }
  }

  /**
   * Up to `n` queued writes in queue order, at most one per instance (`sagad_apply` writes each
   * table once per batch); a write on an instance already taken waits for the next batch,
   * still behind the earlier one.
   */
  private take(n: number): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const ids = new Set<string>();
    for (const p of this.queue) {
      if (batch.length < n && p.prepared.ids.every((id) => !ids.has(id))) {
        batch.push(p);
        for (const id of p.prepared.ids) ids.add(id);
      } else {
        rest.push(p);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async send(batch: Pending[]): Promise<void> {
    const now = Date.now();
    let raw: unknown[];
    let seqs: Map<string, number>;
    let prior: Map<string, number[]>;
    const began = performance.now();
    try {
      const { inputs, rows } = encodeBatch(batch.map((p) => p.prepared));
      const r = await this.pool.query<{ r: { r: unknown[]; s: Record<string, number>; p?: Record<string, number[]> } }>({
        name: 'sagad_apply', text: 'SELECT sagad_apply($1::jsonb, $2::text[], $3::bigint, $4::jsonb) AS r',
        values: [inputs, lockIds(batch), now, rows],
      });
      raw = r.rows[0]?.r.r ?? [];
      seqs = new Map(Object.entries(r.rows[0]?.r.s ?? {}));
      prior = new Map(Object.entries(r.rows[0]?.r.p ?? {}));
      this.opts.onCommit?.(batch.length, (performance.now() - began) / 1000);
    } catch (err) {
      // A deadlock with another replica, or one input's bad value (a NUL character, say) failing
      // the whole batch: each input is tried alone, so only the guilty one fails. A lost
      // connection fails them all: the next attempt is the caller's.
      if (batch.length > 1 && !isTransient(err)) {
        for (const p of batch) await this.send([p]);
        return;
      }
      const e = classify(err, this.where);
      for (const p of batch) p.reject(e);
      return;
    }
    batch.forEach((p, i) => {
      try {
        p.resolve(decodeOutcome(p.prepared.write, raw[i], seqs, now, prior));
      } catch (err) {
        p.reject(err);
      }
    });
  }
}
