import { fault } from './fault.js';

/**
 * Fires durable timers: one JavaScript timer for the earliest due row, however many rows
 * are pending (DESIGN section 1, point 6). Overdue rows fire as soon as it starts.
 */
export interface TimerSource {
  nextDueAt(): number | null;
  /** Fires the timers due at `now`, at most one batch; resolves with how many it fired, once committed. */
  fireDue(now: number): Promise<number>;
}

/** Longest single wait, so a wall-clock jump is noticed within a minute. */
const MAX_WAIT_MS = 60_000;
/** Longest pause after failed batches (100 ms, doubled per failure in a row). */
const MAX_BACKOFF_MS = 5_000;

export class TimerService {
  private handle: NodeJS.Timeout | null = null;
  private armedFor: number | null = null;
  private running = false;
  private failures = 0;

  constructor(private readonly source: TimerSource, private readonly onError: (err: unknown) => void) {}

  start(): void {
    this.running = true;
    this.arm();
  }

  /** Stops firing; resolves once a batch already being fired has committed. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.handle !== null) clearTimeout(this.handle);
    this.handle = null;
    this.armedFor = null;
    await this.firing;
  }

  private firing: Promise<void> = Promise.resolve();

  /** A timer due at `dueAt` was just committed: wake earlier if it is the earliest. */
  poke(dueAt: number): void {
    if (this.running && (this.armedFor === null || dueAt < this.armedFor)) this.arm();
  }

  private arm(): void {
    if (!this.running) return;
    if (this.handle !== null) clearTimeout(this.handle);
    const next = this.source.nextDueAt();
    if (next === null) {
      this.handle = null;
      this.armedFor = null;
      return;
    }
    const wait = Math.min(MAX_WAIT_MS, Math.max(0, next - Date.now()));
    this.armedFor = next;
    this.handle = setTimeout(() => this.fire(), wait);
  }

  private fire(): void {
    this.handle = null;
    // Until the batch committed, no re-arming: the same rows would be read again.
    this.armedFor = 0;
    if (!this.running) return;
    this.firing = this.source.fireDue(Date.now()).then(
      (fired) => {
        if (fired > 0) fault('after-timer-commit');
        this.failures = 0;
        // What fired may have more due behind it: look again at once.
        if (fired > 0 && this.running) this.handle = setTimeout(() => this.fire(), 0);
        else this.arm();
      },
      (err: unknown) => {
        this.onError(err);
        // The rows are still due: firing them again at once would spin (a full disk fails every
        // commit). Pokes are ignored until the pause ends (armedFor stays 0).
        this.failures += 1;
        if (this.running) this.handle = setTimeout(() => this.arm(), Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(this.failures, 6)));
      },
    );
  }
}
