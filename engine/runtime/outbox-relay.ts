import type { OutboxRow } from '../store/index.js';
import type { StorePort } from '../store/port.js';
import { fault } from '../fault.js';
import { TooLargeToPublish, type PublishItem, type PublishResult } from '../transport/publish.js';
import { OversizeParker, type Outcome, type RelayDeadLetters } from './outbox-park.js';

/**
 * What the relay reads and marks: the store port's outbox part; with `parkOutboxRow`, a row
 * that can never be published is parked (and with `trimDead`, the queue kept under its cap).
 */
export type RelaySource = Pick<StorePort, 'claimUnsent' | 'unsentBySeq' | 'markSent'> & Partial<Pick<StorePort, 'parkOutboxRow' | 'trimDead'>>;

export type { RelayDeadLetters };

/** In the queue: rows to publish, or older rows of their instances to read from the table and publish first. */
type Queued = OutboxRow | { readonly fetch: readonly number[] };

/** Options of the relay. */
export interface RelayOptions {
  /**
   * Unsent rows older than this are read back from the table even while the queue is in hand:
   * with replicas, rows a dead replica committed but never sent. 0 (one process): only the
   * rows this process did not hand over are read back.
   */
  readonly orphanAfterMs?: number;
  /** With nothing to do, the table is read this often anyway; default 5 s. */
  readonly idleScanMs?: number;
  /** How long rows read back are claimed against other replicas (and so before this relay retries them after a failure); default 3 s. */
  readonly claimMs?: number;
  /** Where a parked row is told and counted; without it, it is told once through `onError`, and the queue is not trimmed. */
  readonly deadLetters?: RelayDeadLetters;
}

export type Publisher = (items: readonly PublishItem[]) => Promise<PublishResult[]>;

const BATCH = 256;
/** Committed rows held in memory at most; past that the relay reads them back from the table. */
const MAX_QUEUED = 10_000;
/** How often acknowledged rows are marked sent, in one small transaction without an fsync. */
const MARK_EVERY_MS = 100;

/**
 * Publishes outbox rows in order, pipelined, and marks a row sent only after JetStream
 * acknowledged it; unacknowledged rows are retried with backoff (at-least-once, stable ids).
 *
 * The engine hands over the rows of each commit (`push`), so the relay need not read back
 * what was just written. The table is read instead at start, after a failed publish, when
 * more than 10,000 rows wait, and every 5 s of idleness: whenever rows may exist that the
 * queue does not hold. Marks are written every 100 ms rather than after each batch, off the
 * path of the next input; a mark lost in a crash only sends that row again, which JetStream
 * and the participants drop as a duplicate (DESIGN section 1, point 5). (The SQLite store
 * marks a row by deleting it; PostgreSQL keeps sent rows a day.)
 *
 * Per instance, rows go out in commit order, across replicas too: a row that `follows` older
 * unsent rows of its instance (another replica committed them and may have died before
 * sending) waits behind them; those this relay does not hold itself are read from the table
 * and published first, under their own `Nats-Msg-Id`, so when their replica is alive and sends
 * them too, JetStream keeps one copy.
 *
 * The race, spelled out: replica A holds row M of an instance (queued, or claimed from the
 * table) and is slow; B commits row N of the same instance, whose `follows` names M, and sends
 * M, then N once M is acknowledged. Whichever of A and B sends M second gets a duplicate
 * PubAck within the stream's duplicate window (at least 2 minutes, docs/deployment.md), so the
 * stream holds M once, before N. A copy A sends after the window (frozen that long) is stored
 * again: a redelivery with M's id, which participants drop (DESIGN section 1, point 5); the
 * first delivery of M still came before N.
 *
 * A row that can never be published, larger than NATS takes (`TooLargeToPublish`: its
 * max_payload, or its stream's max_msg_size), would hold its instance's later rows back for
 * ever: it is parked in the dead-letter queue instead, and taken out of the outbox in the same
 * transaction, and the rows behind it go on. It costs the other rows nothing: nats.js compares
 * each message's length with max_payload anyway, and the error is told apart only when it came.
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private pending = false;
  private failures = 0;
  private queue: Queued[] = [];
  /** Seqs of the rows queued, in flight, or acknowledged and not yet marked: published by this relay in order. */
  private readonly held = new Set<number>();
  /** The table may hold unsent rows the queue does not. */
  private scan = true;
  /**
   * Rows handed over while the table was being read, queued once the reading is done: a read
   * may not see a row committed while it ran, nor (PostgreSQL) one younger than `orphanAfterMs`.
   * Before, such a row waited for the orphan scan, 2 to 3 s.
   */
  private pushedWhileScanning: OutboxRow[] = [];
  /** The highest seq the reads of the table in progress brought: a row handed over up to it was read (or sent and marked meanwhile). */
  private readUpTo = 0;
  private publishing = false;
  private acked: number[] = [];
  private pushes = 0;
  /**
   * The commit (its `push`) of each unsent row handed over here, by seq: rows of one commit go
   * out together, a later commit of an instance waits for its earlier one (`publishInOrder`).
   * Forgotten once the row is acknowledged.
   */
  private readonly commitOf = new Map<number, number>();
  private markTimer: NodeJS.Timeout | null = null;
  /** Marking failed last time: a full disk fails it every 100 ms, and saying so once is enough. */
  private marksFailing = false;

  private readonly idleScanMs: number;
  private readonly orphanAfterMs: number;
  private readonly claimMs: number;
  private readonly parker: OversizeParker;

  constructor(private readonly source: RelaySource, private readonly publish: Publisher, private readonly onError: (err: unknown) => void, opts: RelayOptions = {}) {
    this.idleScanMs = opts.idleScanMs ?? 5_000;
    this.orphanAfterMs = opts.orphanAfterMs ?? 0;
    this.claimMs = opts.claimMs ?? 3_000;
    this.parker = new OversizeParker(source, onError, opts.deadLetters);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Rows of a commit, in seq order, to publish after the ones already handed over. */
  push(rows: readonly OutboxRow[]): void {
    if (rows.length === 0) return;
    const commit = ++this.pushes;
    // Rows another replica sent (after a claim ran out) are never acknowledged here: should
    // their entries pile up, they are forgotten, and those rows fall back to their creation time.
    if (this.commitOf.size > 2 * MAX_QUEUED) this.commitOf.clear();
    for (const r of rows) this.commitOf.set(r.seq, commit);
    if (!this.scan) {
      if (this.queue.length + rows.length > MAX_QUEUED) this.rescan();
      else this.enqueue(rows);
    } else if (this.pushedWhileScanning.length + rows.length <= MAX_QUEUED) {
      this.pushedWhileScanning.push(...rows);
    }
    this.poke();
  }

  /** Queues rows of commits behind what is queued, with the older rows they follow that this relay does not hold fetched first. */
  private enqueue(rows: readonly OutboxRow[]): void {
    const before = this.unheld(rows);
    if (before.length > 0) this.queue.push({ fetch: before });
    for (const r of rows) this.queue.push(r);
    this.hold(rows);
  }

  /** Something may wait in the table. */
  poke(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Stops after the batch in hand; with `flushMs`, first keeps publishing until empty or that long passed. */
  async stop(flushMs = 0): Promise<void> {
    const deadline = Date.now() + flushMs;
    try {
      while (flushMs > 0 && Date.now() < deadline && this.failures === 0 && await this.busy()) {
        this.poke();
        await new Promise((r) => setTimeout(r, 20));
      }
    } catch {
      // The store cannot say what is left (PostgreSQL down): what is unsent stays in the table
      // for the next start, and the relay stops all the same.
    }
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.writeMarks();
  }

  /** Rows are queued, in flight, or unsent in the table. */
  private async busy(): Promise<boolean> {
    if (this.publishing || this.queue.length > 0) return true;
    await this.writeMarks();
    return (await this.source.claimUnsent(1, Date.now(), 0)).length > 0;
  }

  /** Rows to queue again once the read of the table in progress is done, in seq order, unless it brings them. */
  private keepForAfterScan(rows: readonly OutboxRow[]): void {
    const bySeq = new Map([...rows, ...this.pushedWhileScanning].map((r) => [r.seq, r]));
    this.pushedWhileScanning = [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(0, MAX_QUEUED);
  }

  private rescan(): void {
    this.scan = true;
    this.dropQueue();
  }

  private dropQueue(): void {
    for (const q of this.queue) if (!('fetch' in q)) this.held.delete(q.seq);
    this.queue = [];
  }

  private hold(rows: readonly OutboxRow[]): void {
    for (const r of rows) this.held.add(r.seq);
  }

  /** The seqs that `rows` follow and this relay does not hold (nor `rows` themselves). */
  private unheld(rows: readonly OutboxRow[]): number[] {
    const out: number[] = [];
    for (const r of rows) for (const s of r.follows ?? []) if (!this.held.has(s)) out.push(s);
    if (out.length === 0) return out;
    const own = new Set(rows.map((r) => r.seq));
    return [...new Set(out)].filter((s) => !own.has(s));
  }

  /**
   * Rows read from the table (in seq order), as queue items: the older unsent rows of their
   * instances that they follow and this relay does not hold (claimed by another replica) are
   * fetched where their seqs fall, each run of them a batch of its own, acknowledged before
   * the rows read after it go out. A fetched row is not always older than every row read: a
   * claim can leave a hole in an instance's rows (two replicas claiming at once, `SKIP LOCKED`,
   * took 10 and 12 here and 11 there; or 11 is not old enough yet by its replica's clock), and
   * then 10 goes first, 11 second and 12 last. Rows committed together (a push) follow only
   * rows committed before them, so for those the fetch simply comes first.
   */
  private inSeqOrder(rows: readonly OutboxRow[]): Queued[] {
    const before = this.unheld(rows).sort((a, b) => a - b);
    if (before.length === 0) return [...rows];
    const out: Queued[] = [];
    let k = 0;
    for (const r of rows) {
      let end = k;
      while ((before[end] ?? Infinity) < r.seq) end++;
      if (end > k) out.push({ fetch: before.slice(k, end) });
      k = end;
      out.push(r);
    }
    // None is left (a row follows only older rows); were one, it would go last.
    if (k < before.length) out.push({ fetch: before.slice(k) });
    return out;
  }

  /** The next batch: from the queue, or from the table when it may hold more. */
  private async next(): Promise<OutboxRow[]> {
    // While scanning, the queue holds nothing but the last rows read from the table, with the
    // older rows of their instances to fetch among them (inSeqOrder).
    if (this.scan && this.queue.length === 0) {
      // Marked first, so that rows already acknowledged are not read back as unsent.
      await this.writeMarks();
      const rows = await this.source.claimUnsent(BATCH, Date.now() - this.orphanAfterMs, this.claimMs);
      this.queue = this.inSeqOrder(rows);
      this.hold(rows);
      for (const r of rows) this.readUpTo = Math.max(this.readUpTo, r.seq);
      // Every committed row not yet acknowledged is in hand (those handed over meanwhile
      // behind the rows read, but for those the reads brought): later ones arrive by push.
      if (rows.length < BATCH) {
        this.scan = false;
        const late = this.pushedWhileScanning.filter((r) => r.seq > this.readUpTo && !this.held.has(r.seq));
        this.pushedWhileScanning = [];
        this.readUpTo = 0;
        if (late.length > 0) this.enqueue(late);
      }
    }
    for (let head = this.queue[0]; head !== undefined && 'fetch' in head; head = this.queue[0]) {
      this.queue.shift();
      // A batch of its own, acknowledged before the rows behind it go out; none when they
      // were sent meanwhile (their replica was alive after all).
      const prior = await this.source.unsentBySeq(head.fetch);
      this.hold(prior);
      if (prior.length > 0) return prior;
    }
    const end = this.queue.findIndex((q, i) => i >= BATCH || 'fetch' in q);
    return this.queue.splice(0, end === -1 ? BATCH : end) as OutboxRow[];
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.pending = false;
      if (this.orphanAfterMs > 0 && !this.scan) await this.adoptOrphans();
      let rows: OutboxRow[];
      try {
        rows = await this.next();
      } catch (err) {
        // The table is read again: what a failed read was to bring is not lost, nor its order.
        this.rescan();
        this.onError(err);
        await this.idle(1000);
        continue;
      }
      if (rows.length === 0) {
        if (!(await this.idle(this.failures > 0 ? 1000 : this.idleScanMs))) this.rescan();
        continue;
      }
      let results: Outcome[];
      this.publishing = true;
      try {
        results = await this.publishInOrder(rows);
      } finally {
        this.publishing = false;
      }
      const marked = this.acked.length;
      rows.forEach((r, i) => {
        const ok = results[i]?.ok;
        if (ok === true) {
          this.acked.push(r.seq);
          this.commitOf.delete(r.seq);
        } else {
          this.held.delete(r.seq);
          if (ok === 'parked') this.commitOf.delete(r.seq);
        }
      });
      // Stryker disable next-line all: a fault point acts only with SAGA_FAULT set; the crash tests set it, on the built server (test/e2e/fault-*.test.ts)
      if (this.acked.length > marked) fault('after-publish-before-mark');
      this.scheduleMarks();
      const failed = results.find((r) => !r.ok);
      if (failed !== undefined && !failed.ok) {
        // What failed, and anything queued after it, is read back from the table; what the
        // read does not bring (younger than the orphan age) is queued again behind it.
        const again = [...rows.filter((_, i) => results[i]?.ok === false), ...this.queue.filter((q): q is OutboxRow => !('fetch' in q))];
        this.rescan();
        this.keepForAfterScan(again);
        this.failures++;
        this.onError(failed.error);
        await this.idle(Math.min(5000, 100 * 2 ** Math.min(this.failures, 6)));
      } else {
        this.failures = 0;
      }
    }
  }

  /**
   * Publishes a batch, all at once but for the rows of a later commit of an instance whose
   * earlier commit has rows in the batch too: those go out once JetStream acknowledged the
   * earlier ones, and not at all when one of them failed. Rows of one instance can go to
   * different streams: a step's command and, after its timeout, its compensation's. Sent
   * together, the compensation could be stored while the command's stream refused the
   * command, which then followed once its stream was back: the participant would be told to
   * undo before it was told to do. The rows of one commit (a start's lifecycle event and first
   * command, a forEach's fan-out) go out together, so most batches are one wave. A commit is
   * told by the `push` that handed its rows over; a row read from the table that was never
   * handed over here (another replica's, or from before a restart) by its creation time, so
   * two such commits of one instance within one millisecond count as one. A row that can never
   * be published is parked before the next wave, which then goes on (`park`).
   */
  private async publishInOrder(rows: readonly OutboxRow[]): Promise<Outcome[]> {
    const results: Outcome[] = new Array<Outcome>(rows.length);
    // Each row's wave: how many earlier commits of its instance have rows before it in the batch.
    const commitKey = (r: OutboxRow): string => {
      const pushed = this.commitOf.get(r.seq);
      return pushed === undefined ? `at ${r.createdAt}` : `push ${pushed}`;
    };
    const wave: number[] = [];
    const seen = new Map<string, { wave: number; commit: string }>();
    for (const r of rows) {
      const id = instanceOf(r);
      const commit = commitKey(r);
      const prior = id === undefined ? undefined : seen.get(id);
      const n = prior === undefined ? 0 : prior.commit === commit ? prior.wave : prior.wave + 1;
      if (id !== undefined) seen.set(id, { wave: n, commit });
      wave.push(n);
    }
    const refused = new Map<string, Error>();
    for (let k = 0, left = rows.length; left > 0; k++) {
      const go: number[] = [];
      rows.forEach((r, i) => {
        if (wave[i] !== k) return;
        left--;
        const id = instanceOf(r);
        const before = id === undefined ? undefined : refused.get(id);
        if (before === undefined) go.push(i);
        else results[i] = { ok: false, error: new Error(`not published: an earlier message of instance ${id ?? ''} was not (${before.message})`) };
      });
      let sent: PublishResult[];
      try {
        sent = go.length === 0 ? [] : await this.publish(go.map((i) => item(rows[i] as OutboxRow)));
      } catch (err) {
        sent = go.map(() => ({ ok: false as const, error: err instanceof Error ? err : new Error(String(err)) }));
      }
      for (const [j, i] of go.entries()) {
        const row = rows[i] as OutboxRow;
        let res: Outcome = sent[j] ?? { ok: false as const, error: new Error('the publisher gave no result for this message') };
        if (res.ok === false && res.error instanceof TooLargeToPublish) res = await this.parker.park(row, res.error);
        results[i] = res;
        const id = instanceOf(row);
        if (res.ok === false && id !== undefined && !refused.has(id)) refused.set(id, res.error);
      }
    }
    return results;
  }

  /** Rows left unsent past `orphanAfterMs` (a dead replica's) join the queue; JetStream drops any sent twice. */
  private async adoptOrphans(): Promise<void> {
    if (Date.now() - this.lastOrphanScan < this.idleScanMs) return;
    this.lastOrphanScan = Date.now();
    try {
      // Rows still held here (a backlog of this relay's own) stay where they are. The others
      // join the end, behind older rows of their instances this relay may hold; a row queued
      // here that is newer than an orphan was committed after it, and so follows it already.
      const rows = (await this.source.claimUnsent(BATCH, Date.now() - this.orphanAfterMs, this.claimMs)).filter((r) => !this.held.has(r.seq));
      if (rows.length > 0) {
        this.queue.push(...this.inSeqOrder(rows));
        this.hold(rows);
      }
    } catch (err) {
      this.onError(err);
    }
  }

  private lastOrphanScan = 0;

  private scheduleMarks(): void {
    // Stopped, marks are not tried again: rows left unmarked are published again after the
    // restart, under their ids (a retry timer here would keep the process alive for ever).
    if (this.markTimer !== null || this.acked.length === 0 || !this.running) return;
    this.markTimer = setTimeout(() => {
      this.markTimer = null;
      void this.writeMarks();
    }, MARK_EVERY_MS);
  }

  private async writeMarks(): Promise<void> {
    if (this.markTimer !== null) {
      clearTimeout(this.markTimer);
      this.markTimer = null;
    }
    if (this.acked.length === 0) return;
    const seqs = this.acked;
    this.acked = [];
    try {
      await this.source.markSent(seqs, Date.now());
      for (const s of seqs) this.held.delete(s);
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

/** The instance a row belongs to (its `Saga-Id` header): rows of one instance go out in commit order. */
function instanceOf(r: OutboxRow): string | undefined {
  return r.headers['Saga-Id'];
}

function item(r: OutboxRow): PublishItem {
  return { subject: r.subject, data: r.data, headers: { ...r.headers }, msgId: r.messageId };
}
