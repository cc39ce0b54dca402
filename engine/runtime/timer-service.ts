import { fault } from '../fault.js';
import type { TimerRow } from '../store/index.js';
import type { StorePort } from '../store/port.js';

/** Options of the timer service. */
export interface TimerOptions {
  /** Longest wait before the store is asked again for its earliest timer: how soon a timer armed by another replica, or left by a dead one, is seen. */
  readonly pollMs: number;
  /** How long a batch of due timers is claimed: another replica takes them only after that. */
  readonly claimMs: number;
  /** Timers fired per batch. */
  readonly batch?: number;
}

/**
 * Fires durable timers: one JavaScript timer for the earliest due row, however many rows are
 * pending (DESIGN section 1, point 6). Overdue rows fire as soon as it starts. With replicas,
 * due rows are claimed before they fire, and the store is polled every `pollMs` for timers
 * this process did not arm.
 */
export class TimerService {
  private handle: NodeJS.Timeout | null = null;
  private armedFor: number | null = null;
  private fireOne: ((row: TimerRow) => Promise<void>) | null = null;
  private firing: Promise<void> = Promise.resolve();
  private busy = false;
  /** Batches in a row that failed: the next try waits 100 ms, doubled per failure, up to 5 s. */
  private failures = 0;

  constructor(
    private readonly store: Pick<StorePort, 'nextDueAt' | 'claimDueTimers'>,
    private readonly opts: TimerOptions,
    private readonly onError: (err: unknown) => void,
  ) {}

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
    const wait = Math.min(this.opts.pollMs, Math.max(0, at - Date.now()));
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
        this.wakeAt(next ?? Date.now() + this.opts.pollMs);
      },
      (err: unknown) => {
        this.busy = false;
        this.onError(err);
        if (this.fireOne !== null) this.wakeAt(Date.now() + Math.min(1000, this.opts.pollMs));
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
      const rows = await this.store.claimDueTimers(Date.now(), batch, this.opts.claimMs);
      const results = await Promise.allSettled(rows.map((row) => fireOne(row)));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      return rows.length;
    })().then(
      (fired) => {
        this.busy = false;
        this.failures = 0;
        if (fired > 0) fault('after-timer-commit');
        // What fired may have more due behind it: look again at once.
        if (fired > 0 && this.fireOne !== null) this.wakeAt(Date.now());
        else this.arm();
      },
      (err: unknown) => {
        this.busy = false;
        this.onError(err);
        // The rows are still due: firing them again at once would spin (a full disk fails every
        // commit). Pokes are ignored until the pause ends.
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
}
