import { fault } from '../fault.js';
import type { TimerRow } from '../store/index.js';
import type { StorePort } from '../store/port.js';
import type { TimerSweep } from '../store/timers.js';

/** Options of the timer service. */
export interface TimerOptions {
  /** Longest wait before the store is asked again for its earliest timer: how soon a timer armed by another replica, or left by a dead one, is seen. */
  readonly pollMs: number;
  /** How long a batch of due timers is claimed: another replica takes them only after that. */
  readonly claimMs: number;
  /** Timers fired per batch. */
  readonly batch?: number;
  /** The time in ms since the epoch: `Date.now` unless a test holds it still. */
  readonly clock?: () => number;
}

/** The first pause of a timer whose firing failed; it doubles with each failure in a row. */
const HOLD_BASE_MS = 100;
/** The longest pause of a timer that keeps failing while others fire: it is tried (and its failure logged) about once a minute. */
const HOLD_MAX_MS = 60_000;
/**
 * The longest pause of a timer that failed in a batch where nothing fired: the store may be
 * failing every commit (a full disk), and the timer must fire soon after it recovers.
 */
const HOLD_ALONE_MAX_MS = 5_000;
/** While a held timer is due, how often the store is asked again for timers due behind it. */
const HELD_POLL_MS = 100;
/**
 * Pages of due rows read at most in one round, each of at most a batch: with held rows in
 * front of them, a round reads on past them until it has a batch to fire, but a store failing
 * every timer (a full disk, 100,000 due) costs at most this many pages a round, not all of
 * them ten times a second. The next round reads on where this one stopped.
 */
const MAX_PAGES = 10;

/** A timer whose firing failed, held back until `until`; `dueAt` tells a re-armed timer of the same id from it. */
interface Held {
  readonly dueAt: number;
  readonly failures: number;
  readonly until: number;
}

const heldKey = (row: TimerRow) => `${row.instanceId}\u0000${row.timerId}`;

/**
 * Fires durable timers: one JavaScript timer for the earliest due row, however many rows are
 * pending (DESIGN section 1, point 6). Overdue rows fire as soon as it starts. With replicas,
 * due rows are claimed before they fire, and the store is polled every `pollMs` for timers
 * this process did not arm. A timer whose firing fails is held back on its own, for longer
 * after each failure, while the others fire on time: rounds read on through the due rows from
 * where the last one stopped, so held rows, however many, do not hide the rows behind them.
 * Only a batch that cannot be read at all pauses the whole service.
 */
export class TimerService {
  private handle: NodeJS.Timeout | null = null;
  private armedFor: number | null = null;
  private fireOne: ((row: TimerRow) => Promise<void>) | null = null;
  private firing: Promise<void> = Promise.resolve();
  private busy = false;
  /** Batches in a row that failed as a whole (the store could not be read): the next try waits 100 ms, doubled per failure, up to 5 s. */
  private failures = 0;
  /**
   * Timers whose firing failed (an instance whose definition is gone, a bug): each is not fired
   * again before its own pause ends. A store without claims (SQLite) hands a due row out in every
   * batch until it fires: retried at once, one such timer would spin, and a pause of the whole
   * service would make every other timer late.
   */
  private readonly held = new Map<string, Held>();
  /**
   * Where the sweep through the due rows stands: each round reads on after the last row the
   * one before it read, and starts over (`after` null) once a page found nothing left behind.
   * Asking for the earliest due rows every round, held rows would come back first each time:
   * however many rows a round asked for, more held rows than that would fill every answer and
   * keep the rows behind them from ever being read. A held row whose pause ended, or a row armed
   * behind the cursor, waits for the sweep to start over: at most a pass through the due rows,
   * MAX_PAGES pages a round.
   */
  private readonly sweep: TimerSweep = { after: null };

  constructor(
    private readonly store: Pick<StorePort, 'nextDueAt' | 'claimDueTimers'>,
    private readonly opts: TimerOptions,
    private readonly onError: (err: unknown) => void,
  ) {}

  private now(): number {
    return this.opts.clock?.() ?? Date.now();
  }

  /** Starts firing due timers through `fire`, one input each. */
  start(fire: (row: TimerRow) => Promise<void>): void {
    this.fireOne = fire;
    this.arm();
  }

  /** Stops firing; resolves once a batch already being fired has committed. */
  async stop(): Promise<void> {
    this.fireOne = null;
    if (this.handle !== null) clearTimeout(this.handle);
    this.handle = null;
    this.armedFor = null;
    await this.firing;
  }

  /** A timer due at `dueAt` was just committed: wake earlier if it is the earliest. */
  poke(dueAt: number): void {
    if (this.fireOne !== null && !this.busy && (this.armedFor === null || dueAt < this.armedFor)) this.wakeAt(dueAt);
  }

  private wakeAt(at: number): void {
    if (this.handle !== null) clearTimeout(this.handle);
    const wait = Math.min(this.opts.pollMs, Math.max(0, at - this.now()));
    this.armedFor = at;
    this.handle = setTimeout(() => this.fire(), wait);
  }

  private arm(): void {
    if (this.fireOne === null) return;
    this.busy = true;
    this.firing = this.store.nextDueAt().then(
      (next) => {
        this.busy = false;
        if (this.fireOne === null) return;
        const now = this.now();
        // A held timer that is still due is the earliest the store names, which says nothing of
        // the timers behind it: look again shortly, or when its pause ends. A timer committed
        // meanwhile with an earlier due time pokes as usual.
        const holdEnd = next !== null && next <= now ? this.holdEnd(now) : null;
        this.wakeAt(holdEnd !== null ? Math.min(holdEnd, now + HELD_POLL_MS) : next ?? now + this.opts.pollMs);
      },
      (err: unknown) => {
        this.busy = false;
        this.onError(err);
        if (this.fireOne !== null) this.wakeAt(this.now() + Math.min(1000, this.opts.pollMs));
      },
    );
  }

  private fire(): void {
    this.handle = null;
    this.armedFor = null;
    const fireOne = this.fireOne;
    if (fireOne === null) return;
    // Until the batch committed, no re-arming: the same rows would be read again.
    this.busy = true;
    const batch = this.opts.batch ?? 200;
    this.firing = (async () => {
      const now = this.now();
      const ready = await this.readReady(now, batch);
      const results = await Promise.allSettled(ready.map((row) => fireOne(row)));
      return this.settle(ready, results);
    })().then(
      (fired) => {
        this.busy = false;
        this.failures = 0;
        if (fired > 0) fault('after-timer-commit');
        // What fired may have more due behind it: look again at once.
        if (fired > 0 && this.fireOne !== null) this.wakeAt(this.now());
        else this.arm();
      },
      (err: unknown) => {
        this.busy = false;
        this.onError(err);
        // The batch failed as a whole (the store could not be read): its rows are still due, and
        // asking again at once would spin (an unreachable database). Pokes are ignored until the
        // pause ends.
        this.failures += 1;
        if (this.fireOne === null) return;
        this.busy = true;
        this.handle = setTimeout(() => {
          this.busy = false;
          this.arm();
        }, Math.min(5_000, 100 * 2 ** Math.min(this.failures, 6)));
      },
    );
  }

  /**
   * Up to `batch` due rows that are not held, read page by page on from where the sweep stands,
   * until a page finds nothing left behind it or MAX_PAGES were read. A row read twice (its
   * instance's timers rewritten between two pages) is fired once.
   */
  private async readReady(now: number, batch: number): Promise<TimerRow[]> {
    const ready: TimerRow[] = [];
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES && ready.length < batch; page++) {
      const rows = await this.store.claimDueTimers(now, batch - ready.length, this.opts.claimMs, this.sweep);
      for (const row of rows) {
        const key = `${heldKey(row)}\u0000${row.dueAt}`;
        if (!seen.has(key) && !this.isHeld(row, now)) ready.push(row);
        seen.add(key);
      }
      if (this.sweep.after === null) break;
    }
    return ready;
  }

  /** Whether `row` waits out the pause of an earlier failure; a hold of an older arming of its timer id is dropped. */
  private isHeld(row: TimerRow, now: number): boolean {
    const h = this.held.get(heldKey(row));
    if (h === undefined) return false;
    if (h.dueAt !== row.dueAt) this.held.delete(heldKey(row));
    return h.dueAt === row.dueAt && h.until > now;
  }

  /** The earliest end of a pause still running, or null when no timer is held. */
  private holdEnd(now: number): number | null {
    let end: number | null = null;
    for (const h of this.held.values()) if (h.until > now && (end === null || h.until < end)) end = h.until;
    return end;
  }

  /**
   * Records how each row of a batch went: a timer that fired is no longer held, one that failed
   * is held for twice as long as the last time (up to HOLD_MAX_MS, or HOLD_ALONE_MAX_MS when
   * nothing fired). Its 1st, 2nd, 4th, 8th... failure in a row is reported, with its instance,
   * the error and the pause: a timer that keeps failing, or a full disk failing every timer on
   * its own schedule, writes fewer lines the longer it lasts. One report per batch, which counts
   * the others that failed with it. Returns how many fired.
   */
  private settle(rows: readonly TimerRow[], results: readonly PromiseSettledResult<void>[]): number {
    const now = this.now();
    const fired = results.filter((r) => r.status === 'fulfilled').length;
    const failed = results.length - fired;
    const reports: string[] = [];
    let cause: unknown;
    rows.forEach((row, i) => {
      const r = results[i];
      if (r === undefined) return;
      if (r.status === 'fulfilled') {
        this.held.delete(heldKey(row));
        return;
      }
      const prior = this.held.get(heldKey(row));
      const failures = (prior?.dueAt === row.dueAt ? prior.failures : 0) + 1;
      const pause = Math.min(fired > 0 ? HOLD_MAX_MS : HOLD_ALONE_MAX_MS, HOLD_BASE_MS * 2 ** Math.min(failures - 1, 20));
      this.held.set(heldKey(row), { dueAt: row.dueAt, failures, until: now + pause });
      if ((failures & (failures - 1)) !== 0) return;
      cause ??= r.reason;
      const error = r.reason instanceof Error ? r.reason.message : String(r.reason);
      reports.push(`timer ${row.timerId} of instance ${row.instanceId} failed (${failures} in a row; next try in ${pause} ms): ${error}`);
    });
    // A hold whose pause ended long ago belongs to a timer no longer due here (fired by another
    // replica, or cancelled): a timer still due is tried again soon after its pause ends.
    for (const [key, h] of this.held) if (h.until + HOLD_MAX_MS < now) this.held.delete(key);
    if (reports.length > 0) {
      const more = failed > 1 ? ` (and ${failed - 1} more timers failed in this batch)` : '';
      this.onError(new Error(`${reports[0] ?? ''}${more}`, { cause }));
    }
    return fired;
  }
}
