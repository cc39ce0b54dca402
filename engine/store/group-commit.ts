import { fault } from '../fault.js';

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Item {
  readonly work: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Thrown out of a shared transaction to abandon it: an input failed after it had written. */
class Abandon extends Error {}

/**
 * Group commit: inputs that arrive in the same turn of the event loop share one SQLite
 * transaction (one fsync), and one failing input rolls back only itself. A caller's promise
 * settles only after the shared commit, so a message is still acknowledged only once its
 * effects are durable.
 *
 * The inputs first run one after the other without savepoints: a savepoint copies every page
 * its input changes into a sub-journal, about a fifth of the CPU of a step. An input that
 * fails before writing anything (`clean`, e.g. a duplicate found by its first statement) needs
 * nothing undone. Any other failure abandons the whole transaction, and the batch runs again
 * with a savepoint for each input, as it always did: every input is still all or nothing.
 */
export class GroupCommit {
  private queue: Item[] = [];
  private scheduled = false;

  /**
   * @param tx runs a function in a transaction; nested calls must become savepoints.
   * @param committed called after each commit, before the callers' promises settle.
   * @param rolledBack called when the shared transaction failed as a whole (or the only input in it
   *   threw other than cleanly), before the callers' promises reject.
   * @param observe told after each commit how many inputs it carried and how long the transaction
   *   took in seconds, fsync included (for the metrics; two clock reads per commit, not per input).
   * @param clean true for an error that `work` throws only before it has written anything, so that
   *   the shared transaction may go on without it; by default none is.
   * @param open whether the shared transaction is still open after an input failed. SQLite rolls
   *   the whole transaction back by itself on a full disk, an I/O error or out of memory; the
   *   next input's `tx` would then begin and commit a transaction of its own, durable while the
   *   batch's COMMIT fails and its caller is told so. The batch fails as a whole instead.
   */
  constructor(
    private readonly tx: <T>(fn: () => T) => T,
    private readonly committed: () => void,
    private readonly maxBatch = 512,
    private readonly rolledBack: () => void = () => {},
    private readonly observe?: (size: number, seconds: number) => void,
    private readonly clean: (error: unknown) => boolean = () => false,
    private readonly open: () => boolean = () => true,
  ) {}

  /** Queues `work` for the next shared transaction; resolves with its result after the commit. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Resolves once everything queued so far has been committed (or failed): for a drain. */
  async settled(): Promise<void> {
    while (this.scheduled || this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * An input alone in its transaction needs no savepoint: when it throws, everything rolls back.
   * A clean failure (a duplicate) wrote nothing and commits as it does in a batch: a rollback
   * would make the store forget every state and command it caches, for an input that undid nothing.
   */
  private flushOne(it: Item): void {
    let outcome: Outcome;
    const began = performance.now();
    try {
      outcome = this.tx((): Outcome => {
        try {
          return { ok: true, value: it.work() };
        } catch (error) {
          if (!this.open() || !this.clean(error)) throw error;
          return { ok: false, error };
        }
      });
    } catch (error) {
      this.rolledBack();
      it.reject(error);
      return;
    }
    this.committed();
    if (!outcome.ok) {
      // It wrote nothing: no commit for the metrics.
      it.reject(outcome.error);
      return;
    }
    this.observe?.(1, (performance.now() - began) / 1000);
    it.resolve(outcome.value);
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.queue.splice(0, this.maxBatch);
    if (this.queue.length > 0) this.schedule();
    if (items.length === 0) return;
    const [only] = items;
    if (items.length === 1 && only !== undefined) {
      this.flushOne(only);
      return;
    }
    let outcomes: Outcome[];
    const began = performance.now();
    try {
      try {
        outcomes = this.runAll(items, false);
      } catch (error) {
        // The rollback undid the inputs before the failed one too: all run again, each isolated.
        if (!(error instanceof Abandon)) throw error;
        outcomes = this.runAll(items, true);
      }
    } catch (error) {
      // The commit itself failed: nothing of the batch is durable.
      this.rolledBack();
      for (const it of items) it.reject(error);
      return;
    }
    this.observe?.(items.length, (performance.now() - began) / 1000);
    this.committed();
    items.forEach((it, i) => {
      const o = outcomes[i];
      if (o === undefined || !o.ok) it.reject(o?.error);
      else it.resolve(o.value);
    });
  }

  /**
   * Runs the batch in one transaction. With `isolate`, each input in a savepoint of its own;
   * without, an input failing other than cleanly throws `Abandon`, rolling back the batch.
   */
  private runAll(items: readonly Item[], isolate: boolean): Outcome[] {
    const outcomes: Outcome[] = [];
    this.tx(() => {
      for (const it of items) {
        if (outcomes.length > 0) fault('mid-group-commit');
        try {
          outcomes.push({ ok: true, value: isolate ? this.tx(it.work) : it.work() });
        } catch (error) {
          // Everything before it is gone too, and nothing after it may run outside the batch.
          if (!this.open()) throw error;
          if (!isolate && !this.clean(error)) throw new Abandon('an input failed after writing', { cause: error });
          outcomes.push({ ok: false, error });
        }
      }
    });
    return outcomes;
  }
}
