/**
 * Serializes work per key (an instance id) inside one process: work for one instance runs one
 * at a time, in arrival order, while work for other instances runs alongside it. Replicas do
 * not share it; the store's version check settles races between them.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `fn` once every key is free, holding them all until it settles; all its keys are
   * claimed at once (in one turn), so two callers with overlapping keys never wait for each
   * other in a circle.
   * `fn` learns whether it had to wait: a state read before the wait may be stale.
   */
  async run<T>(keys: readonly string[], fn: (waited: boolean) => Promise<T>): Promise<T> {
    // Stryker disable next-line MethodExpression: every key is registered in this same turn, so no order can make two callers wait in a circle; sorted only for the reader
    const sorted = [...new Set(keys)].sort();
    let release!: () => void;
    // Resolves only after `fn` settled, which is after every earlier holder released.
    const done = new Promise<void>((resolve) => { release = resolve; });
    const before: Promise<void>[] = [];
    for (const key of sorted) {
      const tail = this.tails.get(key);
      if (tail !== undefined) before.push(tail);
      this.tails.set(key, done);
    }
    try {
      if (before.length > 0) await Promise.all(before);
      return await fn(before.length > 0);
    } finally {
      release();
      // The last holder clears its keys, so the map only holds keys with work in hand.
      for (const key of sorted) if (this.tails.get(key) === done) this.tails.delete(key);
    }
  }

  /** Keys with work in hand or queued. */
  get size(): number {
    return this.tails.size;
  }
}
