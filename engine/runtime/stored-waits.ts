import { leafSteps } from '../core/index.js';
import { compileSagaSource, formatDefinitionError } from '../definitions/index.js';
import type { LogFn } from '../log.js';
import type { StorePort } from '../store/port.js';
import { kindOf, LOG_INTERVAL_MS, throttledLog } from './log-throttle.js';

/** How often the stored definitions are listed again by default (PostgreSQL replicas). */
export const STORED_WAITS_REFRESH_MS = 1_000;
/** How often, by default, the hashes of unfinished instances are read again (one query over the instances). */
export const STORED_WAITS_IN_USE_MS = 30_000;
/** How long, by default, a definition counts after it was first stored, instances or not: longer than any rolling deploy. */
export const STORED_WAITS_RECENT_MS = 24 * 3_600_000;

/** What {@link StoredWaits} reads and how it reports. */
export interface StoredWaitsOptions {
  readonly store: Pick<StorePort, 'listDefinitions' | 'getDefinitionSource' | 'hashesInUse'>;
  readonly log: LogFn;
  /** Pause between the end of one refresh and the start of the next; default {@link STORED_WAITS_REFRESH_MS}. */
  readonly intervalMs?: number;
  /** How long the hashes of unfinished instances read at a refresh are used before a refresh reads them again; default {@link STORED_WAITS_IN_USE_MS}. */
  readonly inUseMs?: number;
  /** How long after it was first stored a definition counts, whether or not an instance runs it; default {@link STORED_WAITS_RECENT_MS}. */
  readonly recentMs?: number;
}

const keyOf = (subject: string, type: string) => `${subject}\u0000${type}`;

/**
 * The subject and type pairs that `wait` steps of the stored definitions await, not only of
 * those this process loaded: with PostgreSQL, replicas share the store and its
 * consumers, and during a rolling deploy a replica still on the older definitions file pulls
 * events that only a newer file's wait awaits. Early delivery asks it, besides the registry,
 * whether an event may be early (early-delivery.ts, `candidates`), from memory: no query per
 * message. Every replica stores its definitions before it consumes (`rememberDefinitions`, a
 * reload's `remember`); a refresh lists the stored hashes (one query) and reads and compiles
 * only the sources of hashes that count (below) and it has not seen, since a hash's source
 * never changes. So a definition is known here at most one interval (plus a refresh) after
 * another replica first stored it: an early event for its waits pulled by this replica within
 * that window is still acked as unrelated. Only the definitions that may still take an event
 * count: those first stored within `recentMs` (a day: a rolling deploy's, whichever replica
 * stored its file last), the newest of each saga, and those of unfinished instances (read
 * every `inUseMs`). A wait of an old definition that no instance runs any more would otherwise
 * make every replica look up the instances of each such event for ever. A definition an
 * operator rolls back to, first stored more than a day before, counts once its instances are
 * read as unfinished: up to `inUseMs` after the first starts (its own replicas know it at once).
 */
export class StoredWaits {
  private pairs: ReadonlySet<string> = new Set();
  /** The pairs of each hash read already (none when its source does not compile here: it never will, a hash's source never changes). */
  private readonly waitsOf = new Map<string, readonly string[]>();
  /** Each stored hash's saga and when it was first stored, as listed. */
  private readonly listed = new Map<string, { readonly name: string; readonly firstSeenAt: number }>();
  private inUse: ReadonlySet<string> = new Set();
  private inUseAt = Number.NEGATIVE_INFINITY;
  /** The last refresh asked for; each runs after the one before it has ended. */
  private last: Promise<void> = Promise.resolve();
  /** Callers of `refreshed`, told when the next refresh to start has ended (or the refreshes stop). */
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
    const { store } = this.opts;
    for (const { hash, name, firstSeenAt } of await store.listDefinitions()) this.listed.set(hash, { name, firstSeenAt });
    const now = Date.now();
    if (now - this.inUseAt >= (this.opts.inUseMs ?? STORED_WAITS_IN_USE_MS)) {
      this.inUse = new Set(await store.hashesInUse());
      this.inUseAt = now;
    }
    // Listed oldest first: the last of each saga is its newest.
    const newest = new Map<string, string>();
    const live = new Set(this.inUse);
    const since = now - (this.opts.recentMs ?? STORED_WAITS_RECENT_MS);
    for (const [hash, d] of this.listed) {
      newest.set(d.name, hash);
      if (d.firstSeenAt >= since) live.add(hash);
    }
    for (const hash of newest.values()) live.add(hash);
    // Only the definitions that count are read and compiled (tens of ms each), each once: a
    // store that kept every version of years of deploys costs a start those of today.
    for (const hash of live) {
      const d = this.listed.get(hash);
      if (this.waitsOf.has(hash) || d === undefined) continue;
      const source = await store.getDefinitionSource(hash);
      // Listed a moment ago: never gone (no definition is deleted); read again at the next refresh.
      if (source === undefined) continue;
      this.waitsOf.set(hash, this.waitsIn(source, d.name, hash));
    }
    const pairs = new Set<string>();
    for (const hash of live) for (const p of this.waitsOf.get(hash) ?? []) pairs.add(p);
    this.pairs = pairs;
  }

  /** The pairs a stored source's wait steps await; none, reported once, when it does not compile here (stored by another sagad version, say). */
  private waitsIn(source: string, saga: string, hash: string): string[] {
    let error: string;
    try {
      const r = compileSagaSource(source);
      if (r.ok) return leafSteps(r.saga).flatMap((l) => (l.kind === 'wait' ? [keyOf(l.subject, l.type)] : []));
      error = r.errors.map(formatDefinitionError).join('; ');
    } catch (err) {
      // Not one hash's failure for every hash stored after it: it is read once, as any other.
      error = err instanceof Error ? err.message : String(err);
    }
    this.opts.log('warn', 'a stored definition does not compile here: early events for its wait steps pulled by this replica are not kept unless a loaded definition awaits them too',
      { saga, hash, error });
    return [];
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
    // No refresh starts any more: whoever waits for one is told now.
    const told = this.waiting;
    this.waiting = [];
    for (const tell of told) tell();
  }
}
