/**
 * Answers of costly reads kept for a time proportional to what they cost, so that however
 * many consoles poll, a read that takes 300 ms at a million instances runs at most every few
 * seconds, while a cheap one (a small database, SQLite's maintained counts) is never cached.
 */

/** How long answers live. */
export interface CostCacheOptions {
  /**
   * Reads cheaper than this are not cached at all: their answers are always fresh. Default
   * 250 ms, well above what a cheap read takes even on a loaded machine, so that a small
   * database (a test's) is always read fresh.
   */
  readonly minCostMs?: number;
  /** An answer is fresh for `factor` times what it cost to compute... */
  readonly factor?: number;
  /** ...but never longer than this. */
  readonly maxFreshMs?: number;
  /**
   * Past freshness, an answer up to this age is returned at once while one recomputation
   * runs for the next caller (stale while revalidating); 0: the caller waits for a fresh one.
   */
  readonly staleMs?: number;
  /** Keys kept at most (oldest forgotten first); default 32. */
  readonly maxKeys?: number;
  readonly now?: () => number;
}

/** An answer and when its computation started (what it is as of). */
export interface Cached<V> {
  readonly value: V;
  readonly at: number;
}

interface Entry<V> {
  done: Cached<V> | null;
  ttl: number;
  running: Promise<Cached<V>> | null;
}

/** A cache of answers by key; concurrent callers of one key share one computation. */
export class CostCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly o: Required<CostCacheOptions>;

  constructor(opts: CostCacheOptions = {}) {
    this.o = { minCostMs: 250, factor: 10, maxFreshMs: 10_000, staleMs: 0, maxKeys: 32, now: Date.now, ...opts };
  }

  /** The answer for `key`: a fresh cached one, a stale one (see `staleMs`), or `compute()`'s. */
  get(key: string, compute: () => Promise<V>): Promise<Cached<V>> {
    const e = this.entries.get(key) ?? { done: null, ttl: 0, running: null };
    this.entries.delete(key);
    this.entries.set(key, e);
    for (const old of this.entries.keys()) {
      if (this.entries.size <= this.o.maxKeys) break;
      this.entries.delete(old);
    }
    const age = e.done === null ? Infinity : this.o.now() - e.done.at;
    if (e.done !== null && age < e.ttl) return Promise.resolve(e.done);
    // Only a read known to be costly is shared: a cheap one is run for each caller, so it sees
    // every write committed before the call.
    const run = (e.ttl > 0 ? e.running : null) ?? this.run(e, compute);
    if (e.done !== null && e.ttl > 0 && age < this.o.staleMs) {
      run.catch(() => undefined); // the caller has its answer; the next one sees the failure
      return Promise.resolve(e.done);
    }
    return run;
  }

  private run(e: Entry<V>, compute: () => Promise<V>): Promise<Cached<V>> {
    const at = this.o.now();
    const started = performance.now();
    const p = compute().then((value) => {
      const cost = performance.now() - started;
      const done = { value, at };
      e.done = done;
      e.ttl = cost < this.o.minCostMs ? 0 : Math.min(this.o.maxFreshMs, cost * this.o.factor);
      return done;
    }).finally(() => {
      if (e.running === p) e.running = null;
    });
    e.running = p;
    return p;
  }
}
