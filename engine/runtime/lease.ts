import { createHash, randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { SagaError } from '../errors.js';
import type { LogFn } from '../log.js';

/**
 * The KV bucket that holds the leases: one per consumer prefix, one per SQLite file. The key of
 * a prefix is also the mark of the PostgreSQL replicas that share it (prefix-mark.ts).
 */
export const LEASE_BUCKET = 'sagad_leases';

const DEFAULT_TTL_MS = 6_000;

/** What a lease records of its holder. */
export interface LeaseValue {
  /** The holder's own token (host/pid/random): a renewal writes only over a value that shows it. */
  readonly holder: string;
  readonly host: string;
  readonly pid: number;
  /** The SQLite file, absolute; for PostgreSQL replicas, their database's URL without its password (shown). */
  readonly db: string;
  /** Set by PostgreSQL replicas, which share the key of their prefix (prefix-mark.ts); absent for a SQLite sagad. */
  readonly store?: 'postgres';
  /** PostgreSQL replicas: their database, as the database itself names it (the replicas of one database share the key). */
  readonly database?: string;
  /** The NATS consumer prefix (SAGA_NATS_PREFIX). */
  readonly prefix: string;
  /** How long the lease outlives its last renewal: how long another process watches it unrenewed before taking it over. */
  readonly ttlMs: number;
  /** When it was taken and until when it is renewed, by the holder's clock: shown, never compared with another host's clock. */
  readonly since: number;
  readonly expiresAt: number;
}

/**
 * A held lease (of the consumer prefix and of the SQLite file): renewed until released; `lost`
 * resolves with a sentence if another process took it. One that could not be renewed until
 * shortly before it would expire, or whose NATS connection dropped, is in doubt: `held()` then
 * waits until a renewal shows it still ours (nobody took it meanwhile) or it is lost.
 */
export interface Lease {
  /** What the lease of the consumer prefix recorded when it was taken. */
  readonly value: LeaseValue;
  readonly lost: Promise<string>;
  /** Resolves true while the lease is held (at once, unless it is in doubt), false once it is lost or released. */
  held(): Promise<boolean>;
  /** Whether the lease is held and not in doubt now. */
  isHeld(): boolean;
  /** Stops renewing and deletes the lease, so that a restart need not wait for it to expire. */
  release(): Promise<void>;
}

export interface LeaseOptions {
  /** The consumer prefix (SAGA_NATS_PREFIX): the key of one lease. */
  readonly prefix: string;
  /** The SQLite file: with this host's name, the key of the other. */
  readonly db: string;
  /** How long a lease outlives its last renewal; renewed every third of it. Default 6 s. */
  readonly ttlMs?: number;
  /** The wall clock written in the lease (`since`, `expiresAt`: shown only); default Date.now. Waits are measured with performance.now(). */
  readonly now?: () => number;
  readonly log: LogFn;
  /** Ends the wait for a lease another process left (a SIGTERM while starting): rejects with an AbortError. */
  readonly signal?: AbortSignal;
}

/** What one key of the lease guards, in the words of its log lines and sentences. */
export interface KeySpec {
  readonly key: string;
  /** "NATS consumer prefix sagad", "SQLite file /data/sagad.db". */
  readonly what: string;
  readonly fields: Record<string, unknown>;
  /** The refusal when a live process holds it. */
  readonly refuse: (other: LeaseValue) => SagaError;
  /** A value this process may share the key with, live or not (PostgreSQL replicas of one database); none by default. */
  readonly shares?: (other: LeaseValue) => boolean;
}

export interface Ctx {
  readonly nc: NatsConnection;
  readonly ttl: number;
  readonly now: () => number;
  readonly log: LogFn;
  readonly signal: AbortSignal;
}

/** One key held: the lease is held while each of its keys is. */
interface Part {
  readonly value: LeaseValue;
  readonly lost: Promise<string>;
  held(): Promise<boolean>;
  isHeld(): boolean;
  /** In doubt until a renewal whose read comes after this call shows the key ours. */
  suspect(why: string): void;
  renewSoon(): void;
  release(): Promise<void>;
}

export const encode = (v: LeaseValue) => JSON.stringify(v);
export const isRaceLost = (err: unknown) => err instanceof Error && /wrong last sequence|key exists/i.test(err.message);
export const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
/** How long before its expiry a holder holds its lease in doubt, and how much longer than a holder's life another process waits. */
export const margin = (life: number) => Math.floor(life / 6);
export const interval = (life: number) => Math.max(100, Math.floor(life / 3));
/** A holder's life as it wrote it; a sagad older than `ttlMs` in the value renewed every 2 s for 6 s. */
export const lifeOf = (v: LeaseValue) => (typeof v.ttlMs === 'number' && v.ttlMs > 0 ? v.ttlMs : DEFAULT_TTL_MS);

/** Whether the lease bucket's stream is gone (NATS restarted without its JetStream store). */
export async function bucketGone(nc: NatsConnection): Promise<boolean> {
  try {
    await (await jetstreamManager(nc)).streams.info(`KV_${LEASE_BUCKET}`);
    return false;
  } catch (err) {
    return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
  }
}

/** The bucket, created if missing; its requests wait no longer than a quarter of the life (at least 1 s). */
export function openBucket(c: Ctx): Promise<KV> {
  return new Kvm(jetstream(c.nc, { timeout: Math.max(1_000, Math.floor(c.ttl / 4)) })).create(LEASE_BUCKET, { history: 1 });
}

/** A file's real path; for one not created yet, its nearest existing directory's real path and the rest. */
function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    const dir = dirname(file);
    return dir === file ? file : join(realPath(dir), basename(file));
  }
}

/**
 * The lease key of a SQLite file: a hash of the host's name and the file's real path, so that
 * two paths to one file (a symlink, a relative path) are one key, and one path on two hosts
 * (a volume of each pod) two. Not a consumer prefix, which has no dot.
 */
export function dbLeaseKey(db: string, host = hostname()): string {
  return `db.${createHash('sha256').update(`${host}\n${realPath(resolve(db))}`).digest('hex').slice(0, 40)}`;
}

/** Deletes a key if it still shows this holder; a failure leaves it to expire. */
async function releaseKey(kv: KV, key: string, holder: string): Promise<void> {
  try {
    const entry = await kv.get(key);
    if (entry?.operation === 'PUT' && entry.json<LeaseValue>().holder === holder) await kv.delete(key, { previousSeq: entry.revision });
  } catch {
    // not released: taken over once nobody renewed it for its life
  }
}

/**
 * Takes one key. At once when nobody holds it. From another holder only once its revision has
 * not moved for that holder's life plus a margin, measured on this process's monotonic clock
 * from the first read: another host's clock is never read. A holder seen renewing is alive:
 * refused. A key nobody holds is taken at once: a holder that NATS's JetStream store was lost
 * under reads before it renews (`hold`), and a reconnect puts it in doubt, so it does not
 * write over this one and stops consuming before it finds the key taken. A value the spec
 * `shares` is written over at once.
 */
export async function take(kv: KV, spec: KeySpec, value: LeaseValue, c: Ctx): Promise<{ value: LeaseValue; sentAt: number }> {
  let watched: { revision: number; holder: string; since: number; life: number } | null = null;
  const stamp = (): LeaseValue => ({ ...value, expiresAt: c.now() + c.ttl });
  for (;;) {
    c.signal.throwIfAborted();
    const entry = await kv.get(spec.key);
    if (entry === null || entry.operation !== 'PUT') {
      const mine = stamp();
      const sentAt = performance.now();
      try {
        await kv.create(spec.key, encode(mine));
        return { value: mine, sentAt };
      } catch (err) {
        if (!isRaceLost(err)) throw err;
      }
      continue;
    }
    const other = entry.json<LeaseValue>();
    if (spec.shares?.(other) === true) {
      const mine = stamp();
      const sentAt = performance.now();
      try {
        await kv.update(spec.key, encode(mine), entry.revision);
        return { value: mine, sentAt };
      } catch (err) {
        if (!isRaceLost(err)) throw err;
      }
      continue;
    }
    const at = performance.now();
    // Written meanwhile (the holder too, lest a bucket made again have reached the same revision): alive.
    if (watched !== null && (watched.revision !== entry.revision || watched.holder !== other.holder)) throw spec.refuse(other);
    if (watched === null) {
      watched = { revision: entry.revision, holder: other.holder, since: at, life: lifeOf(other) };
      c.log('info', `the lease of the ${spec.what} is held by another process; taking it over if nobody renews it for ${watched.life + margin(watched.life)} ms`, {
        ...spec.fields, holder: other.holder,
      });
    }
    if (at - watched.since >= watched.life + margin(watched.life)) {
      const mine = stamp();
      const sentAt = performance.now();
      try {
        await kv.update(spec.key, encode(mine), entry.revision);
        c.log('info', 'took over a lease nobody renewed', { ...spec.fields, previous: other.holder, unrenewedMs: Math.round(at - watched.since) });
        return { value: mine, sentAt };
      } catch (err) {
        if (!isRaceLost(err)) throw err;
      }
      continue;
    }
    await sleep(Math.min(500, Math.max(20, Math.floor(watched.life / 12))), undefined, { signal: c.signal });
  }
}

/**
 * Renews a taken key every third of its life. A renewal reads the key first and writes only
 * over a value that shows this holder: after NATS lost its store, a key made again by another
 * process may have the very revision this holder wrote last, which an update alone would
 * accept. The holder holds the key in doubt from a sixth of its life before it would expire
 * (by this process's monotonic clock, from before the read of the last renewal), and from a
 * NATS disconnect on: its consumers wait on `held()`, so two never consume at once. A renewal
 * whose read came after the doubt began ends it; one that finds another holder loses the key.
 */
function hold(kv0: KV, spec: KeySpec, taken: { value: LeaseValue; sentAt: number }, c: Ctx): Part {
  let kv = kv0;
  let value = taken.value;
  let validUntil = taken.sentAt + c.ttl - margin(c.ttl);
  let stopped = false;
  let renewing = false;
  let again = false;
  /** The renewal under way: a release waits for it, lest its write land after the key was deleted. */
  let inFlight: Promise<void> = Promise.resolve();
  let lastError = '';
  let fence: NodeJS.Timeout | undefined;
  let doubt: { since: number; promise: Promise<boolean>; settle: (held: boolean) => void } | null = null;
  let onLost: (why: string) => void = () => undefined;
  const lost = new Promise<string>((r) => { onLost = r; });
  const stop = () => {
    stopped = true;
    clearInterval(renew);
    clearTimeout(fence);
    doubt?.settle(false);
  };
  const lose = (why: string) => {
    if (stopped) return;
    stop();
    onLost(why);
  };
  const doubtNow = (msg: string, fields: Record<string, unknown>) => {
    if (stopped || doubt !== null) return;
    let settle: (held: boolean) => void = () => undefined;
    const promise = new Promise<boolean>((r) => { settle = r; });
    doubt = { since: performance.now(), promise, settle };
    c.log('warn', msg, { ...spec.fields, ...fields });
  };
  const expiring = () => doubtNow('could not renew the lease before it expires; consuming waits until it is renewed (or lost to another sagad)', {
    expiresAt: new Date(value.expiresAt).toISOString(), error: lastError || 'no answer',
  });
  /** Held, not in doubt; a fence that a stalled event loop has not fired yet counts as fired. */
  const sure = () => {
    if (!stopped && doubt === null && performance.now() >= validUntil) expiring();
    return !stopped && doubt === null;
  };
  const renewed = (next: LeaseValue, sentAt: number) => {
    value = next;
    validUntil = sentAt + c.ttl - margin(c.ttl);
    clearTimeout(fence);
    fence = setTimeout(expiring, Math.max(0, validUntil - performance.now()));
    fence.unref();
    if (doubt === null || sentAt < doubt.since) return;
    doubt.settle(true);
    doubt = null;
    c.log('info', 'the lease is renewed again; consuming goes on', spec.fields);
  };
  const failed = (err: unknown) => {
    lastError = message(err);
    c.log('warn', 'could not renew the lease; retrying', { ...spec.fields, error: lastError });
  };
  /** Nobody holds the key (NATS lost its store, or the bucket with it): taken again only if nobody took it first. */
  const takeAgain = async (next: LeaseValue, sentAt: number, bucketWasGone: boolean) => {
    try {
      if (bucketWasGone) kv = await openBucket(c);
      await kv.create(spec.key, encode(next));
      // Released meanwhile: the release waits for this renewal and deletes the key after it.
      if (stopped) return;
      renewed(next, sentAt);
      c.log('warn', `the lease ${bucketWasGone ? 'bucket was gone (NATS restarted without its JetStream store?)' : 'was gone'}; the lease is taken again`, spec.fields);
    } catch (err) {
      if (isRaceLost(err)) lose(`another process took the lease of ${spec.what}${bucketWasGone ? ' while its bucket was set up again' : ''}`);
      else failed(err);
    }
  };
  const renewOnce = async (): Promise<void> => {
    const sentAt = performance.now();
    const next = { ...value, expiresAt: c.now() + c.ttl };
    let entry: KvEntry | null;
    try {
      entry = await kv.get(spec.key);
    } catch (err) {
      // A read from a bucket that no longer exists fails as "jetstream is not enabled" or a timeout (no stream answers).
      if (stopped) return;
      if (await bucketGone(c.nc)) await takeAgain(next, sentAt, true);
      else failed(err);
      return;
    }
    if (stopped) return;
    if (entry === null || entry.operation !== 'PUT') return takeAgain(next, sentAt, false);
    if (entry.json<LeaseValue>().holder !== value.holder) return lose(`another process took the lease of ${spec.what}`);
    try {
      await kv.update(spec.key, encode(next), entry.revision);
      if (!stopped) renewed(next, sentAt);
    } catch (err) {
      // A lost race too: somebody wrote between the read and the write; the next renewal reads who.
      if (!stopped) failed(err);
    }
  };
  /** One renewal at a time: after a stalled event loop, ticks due at once must not race each other. */
  const tick = (soon = false) => {
    if (stopped) return;
    if (renewing) {
      again ||= soon;
      return;
    }
    renewing = true;
    inFlight = renewOnce().catch(failed).finally(() => {
      renewing = false;
      if (!again) return;
      again = false;
      tick();
    });
  };
  const renew = setInterval(tick, interval(c.ttl));
  renew.unref();
  renewed(value, taken.sentAt);
  return {
    value: taken.value, lost,
    held: () => (sure() ? Promise.resolve(true) : doubt?.promise ?? Promise.resolve(false)),
    isHeld: sure,
    suspect: (why) => doubtNow(`${why}: the lease is in doubt until a renewal shows it still ours (NATS may have lost its store); consuming waits`, {}),
    renewSoon: () => tick(true),
    release: async () => {
      stop();
      await inFlight;
      await releaseKey(kv, spec.key, value.holder);
    },
  };
}

export const since = (v: LeaseValue) => new Date(v.since).toISOString();

/**
 * Takes the exclusive leases of a SQLite sagad, before it opens its file or consumes: one on its
 * NATS consumer prefix (two processes with their own SQLite files on one set of durable
 * consumers would each take the other's replies) and one on its SQLite file (two processes on
 * one file, whatever their prefixes, would both run its sagas). A lease nobody renews (its
 * holder was killed) is taken over once it stayed unrenewed for its life plus a sixth, by this
 * process's clock; a live holder refuses the start with SAGA_ERR_LEASE_HELD and what to do.
 */
export async function acquireLease(nc: NatsConnection, o: LeaseOptions): Promise<Lease> {
  const aborted = new AbortController();
  const signal = o.signal === undefined ? aborted.signal : AbortSignal.any([aborted.signal, o.signal]);
  const c: Ctx = { nc, ttl: o.ttlMs ?? DEFAULT_TTL_MS, now: o.now ?? Date.now, log: o.log, signal };
  const host = hostname();
  const db = resolve(o.db);
  const at = c.now();
  const value: LeaseValue = {
    holder: `${host}/${process.pid}/${randomBytes(4).toString('hex')}`, host, pid: process.pid, db, prefix: o.prefix, ttlMs: c.ttl, since: at, expiresAt: at + c.ttl,
  };
  const specs: KeySpec[] = [{
    key: o.prefix, what: `NATS consumer prefix ${o.prefix}`, fields: { prefix: o.prefix },
    refuse: (v) => new SagaError('SAGA_ERR_LEASE_HELD', v.store === 'postgres'
      ? `sagad replicas on PostgreSQL (database ${v.db}; renewed last by host ${v.host}, pid ${v.pid}) use the NATS consumer prefix ${o.prefix}: ` +
        'a sagad with a SQLite store beside them would take their replies. ' +
        'To run as one more of those replicas, give this one their SAGA_DB (postgres://...); for an unrelated sagad, give it another SAGA_NATS_PREFIX.'
      : `another sagad (host ${v.host}, pid ${v.pid}, database ${v.db}) holds the lease since ${since(v)} and renews it, for the NATS consumer prefix ${o.prefix}: ` +
        'two sagad processes with SQLite stores on one NATS would take each other\'s replies. ' +
        'For several replicas, use one PostgreSQL database for all (SAGA_DB=postgres://...); for an unrelated second sagad, give it another SAGA_NATS_PREFIX.'),
  }, {
    key: dbLeaseKey(db, host), what: `SQLite file ${db}`, fields: { db },
    refuse: (v) => new SagaError('SAGA_ERR_LEASE_HELD',
      `another sagad (host ${v.host}, pid ${v.pid}, NATS consumer prefix ${v.prefix}) holds the lease of the SQLite file ${db} since ${since(v)} and renews it: ` +
      'two sagad processes on one SQLite file would both run its sagas. Stop that sagad first (SIGTERM: it drains and releases the lease at once), ' +
      'or give this one a file of its own (SAGA_DB).'),
  }];
  const kv = await openBucket(c);
  // Both at once, each renewed from when it is taken: a restart after kill -9 waits once. The
  // first refusal (or error) ends the other's wait.
  let refusal: { err: unknown } | null = null;
  const taken = await Promise.allSettled(specs.map(async (spec) => {
    try {
      return hold(kv, spec, await take(kv, spec, value, c), c);
    } catch (err) {
      refusal ??= { err };
      aborted.abort();
      throw err;
    }
  }));
  const parts = taken.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (refusal !== null) {
    await Promise.all(parts.map((p) => p.release()));
    // A key taken while the other was refused is given back too.
    await Promise.all(specs.map((s) => releaseKey(kv, s.key, value.holder)));
    throw (refusal as { err: unknown }).err;
  }
  const lost = Promise.race(parts.map((p) => p.lost));
  // Lost one, lost all: every key is given up, so every part's held() settles (false) and
  // none is left waiting on a doubt nobody will end.
  void lost.then(() => Promise.all(parts.map((p) => p.release()))).catch(() => undefined);
  // A reconnect may be to a server that lost its store, where another process may take the key
  // this one held: each is in doubt from the disconnect until a read after the reconnect shows it ours.
  const status = nc.status();
  void (async () => {
    for await (const s of status) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') for (const p of parts) p.suspect('NATS disconnected');
      if (s.type === 'reconnect') {
        for (const p of parts) {
          p.suspect('NATS reconnected');
          p.renewSoon();
        }
      }
    }
  })();
  const unwatch = () => (status as { stop?: () => void }).stop?.();
  void lost.then(unwatch);
  o.log('info', 'holding the SQLite lease of the NATS consumer prefix and of the database file', { prefix: o.prefix, db, ttlMs: c.ttl });
  return {
    value: parts[0]?.value ?? value, lost,
    held: async () => (await Promise.all(parts.map((p) => p.held()))).every(Boolean),
    isHeld: () => parts.every((p) => p.isHeld()),
    release: async () => {
      unwatch();
      await Promise.all(parts.map((p) => p.release()));
    },
  };
}
