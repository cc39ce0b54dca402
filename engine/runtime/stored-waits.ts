import { leafSteps } from '../core/index.js';
import { compileSagaSource, formatDefinitionError } from '../definitions/index.js';
import type { LogFn } from '../log.js';
import type { StorePort } from '../store/port.js';
import { kindOf, LOG_INTERVAL_MS, throttledLog } from './log-throttle.js';

/** How often the stored definitions are listed again by default (PostgreSQL replicas). */
export const STORED_WAITS_REFRESH_MS = 1_000;

/** What {@link StoredWaits} reads and how it reports. */
export interface StoredWaitsOptions {
  readonly store: Pick<StorePort, 'listDefinitions' | 'getDefinitionSource'>;
  readonly log: LogFn;
  /** Pause between the end of one refresh and the start of the next; default {@link STORED_WAITS_REFRESH_MS}. */
  readonly intervalMs?: number;
}

const keyOf = (subject: string, type: string) => `${subject}\u0000${type}`;

/**
 * The subject and type pairs that `wait` steps of every definition in the store await, not
 * only of those this process loaded: with PostgreSQL, replicas share the store and its
 * consumers, and during a rolling deploy a replica still on the older definitions file pulls
 * events that only a newer file's wait awaits. Early delivery asks it, besides the registry,
 * whether an event may be early (early-delivery.ts, `candidates`), from memory: no query per
 * message. Every replica stores its definitions before it consumes (`rememberDefinitions`, a
 * reload's `remember`); a refresh lists the stored hashes (one query) and reads and compiles
 * only the sources of hashes it has not seen, since a hash's source never changes. So a
 * definition is known here at most one interval (plus a refresh) after another replica first
 * stored it: an early event for its waits pulled by this replica within that window is still
 * acked as unrelated. Pairs are only ever added: definitions are never deleted from the store.
 */
export class StoredWaits {
  private readonly pairs = new Set<string>();
  /** Hashes read already: their waits are in `pairs`, or their source does not compile here (it never will: it never changes). */
  private readonly known = new Set<string>();
  /** The last refresh asked for; each runs after the one before it has ended. */
  private last: Promise<void> = Promise.resolve();
  /** Callers of `refreshed`, told when the next refresh to start has ended. */
  private waiting: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** A store that fails every second (an outage) costs a line per kind every LOG_INTERVAL_MS. */
  private readonly warn: ReturnType<typeof throttledLog>;

  constructor(private readonly opts: StoredWaitsOptions) {
    this.warn = throttledLog(opts.log, LOG_INTERVAL_MS);
  }

  /** Whether a `wait` step of some stored definition (as of the last refresh) awaits events of this subject and type; no I/O. */
  awaits(subject: string, type: string): boolean {
    return this.pairs.has(keyOf(subject, type));
  }

  /**
   * Reads what was stored since the last refresh; rejects when the store fails, keeping what
   * it read before the failure (the next refresh reads the rest). Refreshes run one at a time,
   * so one asked for after a definition was stored sees it.
   */
  refresh(): Promise<void> {
    const next = this.last.catch(() => undefined).then(async () => {
      const told = this.waiting;
      this.waiting = [];
      try {
        await this.readNew();
      } finally {
        for (const tell of told) tell();
      }
    });
    this.last = next;
    return next;
  }

  /** Resolves once a refresh that starts after this call has ended, whether it failed or not (the timer's, or one asked for). */
  refreshed(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private async readNew(): Promise<void> {
    const { store, log } = this.opts;
    for (const { hash, name } of await store.listDefinitions()) {
      if (this.known.has(hash)) continue;
      const source = await store.getDefinitionSource(hash);
      // Listed a moment ago: never gone (no definition is deleted); read again at the next refresh.
      if (source === undefined) continue;
      const r = compileSagaSource(source);
      if (r.ok) {
        for (const l of leafSteps(r.saga)) if (l.kind === 'wait') this.pairs.add(keyOf(l.subject, l.type));
      } else {
        // Stored by another sagad version, say: reported once, since it will never compile here.
        log('warn', 'a stored definition does not compile here: early events for its wait steps pulled by this replica are not kept unless a loaded definition awaits them too',
          { saga: name, hash, error: r.errors.map(formatDefinitionError).join('; ') });
      }
      this.known.add(hash);
    }
  }

  /** Refreshes at once, then `intervalMs` after each refresh until `stop`; resolves after the first, failed or not (a failure is logged and retried). */
  async start(): Promise<void> {
    await this.tick();
  }

  private async tick(): Promise<void> {
    try {
      await this.refresh();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.warn('warn', 'reading the waits of the stored definitions failed; tried again every refresh', kindOf(error), { error });
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.opts.intervalMs ?? STORED_WAITS_REFRESH_MS);
    // Nothing to keep the process alive for: the drain stops it, and a crash loses nothing.
    this.timer.unref();
  }

  /** Stops the refreshes; resolves once the one in progress has ended, so the store may close after it. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.last.catch(() => undefined);
  }
}
