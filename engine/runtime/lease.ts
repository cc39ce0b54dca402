import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { SagaError } from '../errors.js';
import type { LogFn } from '../log.js';

/** The KV bucket that holds one lease per consumer prefix. */
export const LEASE_BUCKET = 'sagad_leases';

/** What a lease records of its holder. */
export interface LeaseValue {
  readonly holder: string;
  readonly host: string;
  readonly pid: number;
  /** The SQLite file, absolute. */
  readonly db: string;
  readonly since: number;
  readonly expiresAt: number;
}

/**
 * A held lease: renewed until released; `lost` resolves with a sentence if another process
 * took it. One that could not be renewed until shortly before it would expire is in doubt:
 * `held()` then waits until a renewal succeeds (nobody took it meanwhile) or it is lost.
 */
export interface Lease {
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
  /** The consumer prefix (SAGA_NATS_PREFIX): the lease's key. */
  readonly prefix: string;
  readonly db: string;
  /** How long a lease outlives its last renewal; renewed every third of it. Default 6 s. */
  readonly ttlMs?: number;
  readonly log: LogFn;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const encode = (v: LeaseValue) => JSON.stringify(v);
const isRaceLost = (err: unknown) => err instanceof Error && /wrong last sequence|key exists/i.test(err.message);

/** Whether the lease bucket's stream is gone (NATS restarted without its JetStream store). */
async function bucketGone(nc: NatsConnection): Promise<boolean> {
  try {
    await (await jetstreamManager(nc)).streams.info(`KV_${LEASE_BUCKET}`);
    return false;
  } catch (err) {
    return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
  }
}

function describe(v: LeaseValue, now: number): string {
  return `another sagad (host ${v.host}, pid ${v.pid}, database ${v.db}) holds the lease since ${new Date(v.since).toISOString()}, renewed until ${Math.max(0, Math.round((v.expiresAt - now) / 1000))} s from now`;
}

/**
 * Takes the exclusive lease of a SQLite sagad on its NATS consumer prefix, before it consumes:
 * two processes with their own SQLite files on one set of durable consumers would each take
 * the other's replies. A lease of the same host and database (this process's predecessor,
 * killed) is waited for until it expires; any other live lease refuses the start with
 * SAGA_ERR_LEASE_HELD and what to do.
 */
export async function acquireLease(nc: NatsConnection, o: LeaseOptions): Promise<Lease> {
  const ttl = o.ttlMs ?? 6_000;
  let kv: KV = await new Kvm(nc).create(LEASE_BUCKET, { history: 1 });
  const db = resolve(o.db);
  const host = hostname();
  const base = { holder: `${host}/${process.pid}/${Math.random().toString(36).slice(2, 10)}`, host, pid: process.pid, db, since: Date.now() };
  const fresh = (): LeaseValue => ({ ...base, expiresAt: Date.now() + ttl });
  const waitUntil = Date.now() + ttl + 2_000;
  let revision: number | null = null;
  let value = fresh();
  while (revision === null) {
    value = fresh();
    try {
      revision = await kv.create(o.prefix, encode(value));
      break;
    } catch (err) {
      if (!isRaceLost(err)) throw err;
    }
    const entry = await kv.get(o.prefix);
    if (entry === null || entry.operation !== 'PUT') continue;
    const other = entry.json<LeaseValue>();
    const now = Date.now();
    if (other.expiresAt < now) {
      try {
        revision = await kv.update(o.prefix, encode(value), entry.revision);
        o.log('info', 'took over an expired lease', { prefix: o.prefix, previous: other.holder });
      } catch (err) {
        if (!isRaceLost(err)) throw err;
      }
      continue;
    }
    if (other.host === host && other.db === db && now < waitUntil) {
      o.log('info', 'the lease of this database is still held, probably by a process that was killed; waiting for it to expire', { prefix: o.prefix, holder: other.holder });
      await sleep(Math.min(500, other.expiresAt - now + 20));
      continue;
    }
    throw new SagaError('SAGA_ERR_LEASE_HELD',
      `${describe(other, now)} for the NATS consumer prefix ${o.prefix}: two sagad processes with SQLite stores on one NATS would take each other's replies. ` +
      'For several replicas, use one PostgreSQL database for all (SAGA_DB=postgres://...); for an unrelated second sagad, give it another SAGA_NATS_PREFIX.');
  }
  let rev = revision;
  let stopped = false;
  let renewing = false;
  let onLost: (why: string) => void = () => undefined;
  const lost = new Promise<string>((r) => { onLost = r; });
  // Another process takes the lease once the expiry last written has passed (by its clock). A
  // holder that cannot renew (the bucket unreachable, NATS away, its event loop stalled) holds
  // it in doubt from a sixth of its life before then: its consumers wait on `held()`, so two
  // never consume at once. The next renewal that succeeds (it updates the revision this holder
  // wrote last, so nobody took the lease meanwhile) ends the doubt; one that finds another
  // holder loses it.
  const margin = Math.floor(ttl / 6);
  let lastError = '';
  let fence: NodeJS.Timeout | undefined;
  let doubt: { promise: Promise<boolean>; settle: (held: boolean) => void } | null = null;
  const lose = (why: string) => {
    if (stopped) return;
    stopped = true;
    clearInterval(renew);
    clearTimeout(fence);
    doubt?.settle(false);
    onLost(why);
  };
  const confirmed = () => {
    if (doubt === null) return;
    doubt.settle(true);
    doubt = null;
    o.log('info', 'the lease is renewed again; consuming goes on', { prefix: o.prefix });
  };
  const holdUntil = (expiresAt: number) => {
    clearTimeout(fence);
    fence = setTimeout(() => {
      if (stopped || doubt !== null) return;
      let settle: (held: boolean) => void = () => undefined;
      const promise = new Promise<boolean>((r) => { settle = r; });
      doubt = { promise, settle };
      o.log('warn', 'could not renew the lease before it expires; consuming waits until it is renewed (or lost to another sagad)', {
        prefix: o.prefix, expiresAt: new Date(expiresAt).toISOString(), error: lastError || 'no answer',
      });
    }, Math.max(0, expiresAt - margin - Date.now()));
    fence.unref();
  };
  /** One renewal at a time: after a stalled event loop, ticks due at once must not race each other. */
  const renewOnce = async (): Promise<void> => {
    const next = { ...value, expiresAt: Date.now() + ttl };
    try {
      // Waits no longer than a quarter of the life: a slow answer leaves time for another try.
      rev = await kv.update(o.prefix, encode(next), rev, Math.max(50, Math.floor(ttl / 4)));
      value = next;
      holdUntil(next.expiresAt);
      confirmed();
    } catch (err) {
      if (stopped) return;
      let failure: unknown = err;
      // A renewal into a bucket that no longer exists fails as "jetstream is not enabled" (no stream answers).
      if (!isRaceLost(failure) && await bucketGone(nc)) {
        // NATS lost its JetStream store: nobody holds the lease now. Created again only if
        // nobody took it meanwhile (kv.create fails on an existing key), it is ours again.
        try {
          kv = await new Kvm(nc).create(LEASE_BUCKET, { history: 1 });
          rev = await kv.create(o.prefix, encode(next));
          value = next;
          holdUntil(next.expiresAt);
          confirmed();
          o.log('warn', 'the lease bucket was gone (NATS restarted without its JetStream store?); the lease is taken again', { prefix: o.prefix });
          return;
        } catch (again) {
          if (isRaceLost(again)) {
            lose(`another process took the lease of NATS consumer prefix ${o.prefix} while its bucket was set up again`);
            return;
          }
          failure = again;
        }
      }
      if (!isRaceLost(failure)) {
        lastError = failure instanceof Error ? failure.message : String(failure);
        o.log('warn', 'could not renew the lease; retrying', { prefix: o.prefix, error: lastError });
        return;
      }
      // The revision moved: a renewal of ours whose answer was lost (a timeout), another
      // process, or a bucket made again (NATS lost its store) without this key.
      let entry: Awaited<ReturnType<KV['get']>>;
      try {
        entry = await kv.get(o.prefix);
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
        return; // not known who holds it: the next renewal asks again
      }
      if (entry === null || entry.operation !== 'PUT') {
        // Nobody holds it: taken again only if nobody takes it first (create fails on an existing key).
        try {
          rev = await kv.create(o.prefix, encode(next));
          value = next;
          holdUntil(next.expiresAt);
          confirmed();
        } catch (e) {
          if (isRaceLost(e)) lose(`another process took the lease of NATS consumer prefix ${o.prefix}`);
          else lastError = e instanceof Error ? e.message : String(e);
        }
        return;
      }
      if (entry.json<LeaseValue>().holder === base.holder) {
        rev = entry.revision;
        value = entry.json<LeaseValue>();
        holdUntil(value.expiresAt);
        // Ours, but in doubt only a renewal that moves the expiry ends the doubt: the next tick's.
        if (value.expiresAt - margin > Date.now()) confirmed();
        return;
      }
      lose(`another process took the lease of NATS consumer prefix ${o.prefix}`);
    }
  };
  const renew = setInterval(() => {
    if (renewing || stopped) return;
    renewing = true;
    void renewOnce().finally(() => { renewing = false; });
  }, Math.max(100, Math.floor(ttl / 3)));
  renew.unref();
  holdUntil(value.expiresAt);
  o.log('info', 'holding the SQLite lease of the NATS consumer prefix', { prefix: o.prefix, ttlMs: ttl });
  return {
    value, lost,
    held: () => (stopped ? Promise.resolve(false) : doubt?.promise ?? Promise.resolve(true)),
    isHeld: () => !stopped && doubt === null,
    release: async () => {
      stopped = true;
      clearInterval(renew);
      clearTimeout(fence);
      doubt?.settle(false);
      await kv.delete(o.prefix, { previousSeq: rev }).catch(() => undefined);
    },
  };
}
