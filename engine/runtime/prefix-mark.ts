import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { SagaError } from '../errors.js';
import type { LogFn } from '../log.js';
import { bucketGone, encode, interval, isRaceLost, LEASE_BUCKET, lifeOf, margin, message, openBucket, since, take, type Ctx, type KeySpec, type LeaseValue } from './lease.js';

const DEFAULT_TTL_MS = 6_000;
/** How often the same complaint about the prefix is logged at most. */
const COMPLAIN_EVERY_MS = 60_000;

export interface PrefixMarkOptions {
  /** The consumer prefix (SAGA_NATS_PREFIX): the key, shared with the SQLite lease of that prefix. */
  readonly prefix: string;
  /** The database's URL without its password, shown to whoever is refused. */
  readonly where: string;
  /** The database as it names itself (`StorePort.identity`): replicas with the same one share the mark. */
  readonly database: string;
  /** How long the mark outlives its last renewal; renewed every third of it. Default 6 s. */
  readonly ttlMs?: number;
  readonly now?: () => number;
  readonly log: LogFn;
  /** Ends the wait for a lease a SQLite sagad left (a SIGTERM while starting): rejects with an AbortError. */
  readonly signal?: AbortSignal;
}

/** The mark of a replica: renewed until released. */
export interface PrefixMark {
  readonly value: LeaseValue;
  /** Stops renewing (after the renewal under way); the mark stays for the other replicas to renew, or expires. */
  release(): Promise<void>;
}

/**
 * Marks the NATS consumer prefix as used by the PostgreSQL replicas of one database, in the
 * key a SQLite sagad takes as its lease of that prefix (lease.ts). Replicas of the same
 * database share it: each writes its stamp over the last one, every third of the mark's life,
 * so it stays live while one of them runs. A SQLite sagad that finds it live is refused, as is
 * a replica of another database (two databases on one set of durable consumers would take each
 * other's replies, as would a SQLite sagad beside the replicas), each with what to do.
 *
 * A replica that finds the key live and held by one of those is refused too, with
 * SAGA_ERR_LEASE_HELD. A mark nobody renews (every replica stopped or killed) is taken by
 * whoever comes, once it stayed unrenewed for its life and a sixth. The mark does not gate
 * consuming: PostgreSQL orders the replicas' writes. Should a renewal find the key taken
 * (every replica cut off from NATS past the mark's life, or NATS restarted without its store,
 * while a SQLite sagad started), the replica says so once a minute and writes nothing over it
 * while that sagad renews it; once nobody renewed it for its life and a sixth, the replica
 * takes the key back.
 */
export async function markPrefix(nc: NatsConnection, o: PrefixMarkOptions): Promise<PrefixMark> {
  const c: Ctx = { nc, ttl: o.ttlMs ?? DEFAULT_TTL_MS, now: o.now ?? Date.now, log: o.log, signal: o.signal ?? new AbortController().signal };
  const host = hostname();
  const at = c.now();
  const mine: LeaseValue = {
    holder: `${host}/${process.pid}/${randomBytes(4).toString('hex')}`, host, pid: process.pid, db: o.where, prefix: o.prefix,
    store: 'postgres', database: o.database, ttlMs: c.ttl, since: at, expiresAt: at + c.ttl,
  };
  const shares = (v: LeaseValue) => v.store === 'postgres' && v.database === o.database;
  const spec: KeySpec = {
    key: o.prefix, what: `NATS consumer prefix ${o.prefix}`, fields: { prefix: o.prefix }, shares,
    refuse: (v) => new SagaError('SAGA_ERR_LEASE_HELD', v.store === 'postgres'
      ? `sagad replicas of another PostgreSQL database (${v.db}; renewed last by host ${v.host}, pid ${v.pid}) use the NATS consumer prefix ${o.prefix}: ` +
        'replicas of two databases on one set of durable consumers would take each other\'s replies. ' +
        'To run as one more of those replicas, give this one their SAGA_DB; for an unrelated set of replicas, give it another SAGA_NATS_PREFIX.'
      : `a sagad with a SQLite store (host ${v.host}, pid ${v.pid}, database ${v.db}) holds the lease of the NATS consumer prefix ${o.prefix} since ${since(v)} and renews it: ` +
        'replicas on PostgreSQL beside it would take each other\'s replies. Stop that sagad (or move its work to PostgreSQL), or give these replicas another SAGA_NATS_PREFIX.'),
  };
  let kv: KV = await openBucket(c);
  let value = (await take(kv, spec, mine, c)).value;
  o.log('info', 'marked the NATS consumer prefix as used by the replicas of this PostgreSQL database', { prefix: o.prefix, database: o.database });

  const lastSaid = new Map<string, number>();
  /** Once a minute for each kind of line: a renewal runs every 2 s. */
  const say = (level: 'warn' | 'error', msg: string, fields: Record<string, unknown>) => {
    const t = performance.now();
    if (t - (lastSaid.get(msg) ?? -Infinity) < COMPLAIN_EVERY_MS) return;
    lastSaid.set(msg, t);
    o.log(level, msg, { prefix: o.prefix, ...fields });
  };
  /** A value of another kind found on the key: taken back once nobody renewed it for its life and a sixth (by this clock). */
  let foreign: { revision: number; holder: string; since: number; life: number } | null = null;
  let stopped = false;
  const renewOnce = async () => {
    const next = { ...value, expiresAt: c.now() + c.ttl };
    let entry;
    try {
      entry = await kv.get(spec.key);
    } catch (err) {
      if (await bucketGone(nc).catch(() => false)) kv = await openBucket(c);
      else throw err;
      entry = null;
    }
    if (stopped) return;
    const other = entry?.operation === 'PUT' ? entry.json<LeaseValue>() : null;
    try {
      if (entry === null || other === null) {
        await kv.create(spec.key, encode(next));
      } else if (shares(other)) {
        await kv.update(spec.key, encode(next), entry.revision);
      } else {
        const at = performance.now();
        if (foreign === null || foreign.revision !== entry.revision || foreign.holder !== other.holder) {
          foreign = { revision: entry.revision, holder: other.holder, since: at, life: lifeOf(other) };
        }
        if (at - foreign.since < foreign.life + margin(foreign.life)) {
          say('error', 'another sagad took the NATS consumer prefix these replicas use; it takes their replies until it stops', {
            holder: other.holder, host: other.host, pid: other.pid, database: other.db, store: other.store ?? 'sqlite',
          });
          return;
        }
        // Its holder is gone (killed, or cut off): the prefix is the replicas' again, and that
        // holder, should it come back, finds the key taken at its next renewal and stops.
        await kv.update(spec.key, encode(next), entry.revision);
        o.log('info', 'took the NATS consumer prefix back: nobody renewed the lease another sagad had on it', { prefix: o.prefix, previous: other.holder });
      }
      foreign = null;
      value = next;
    } catch (err) {
      // Another replica wrote first: its stamp is as good as this one's.
      if (!isRaceLost(err)) throw err;
    }
  };
  let inFlight: Promise<void> | null = null;
  const tick = () => {
    if (inFlight !== null || stopped) return;
    inFlight = renewOnce().catch((err: unknown) => {
      if (!stopped) say('warn', 'could not renew the mark of the NATS consumer prefix; retrying', { error: message(err) });
    }).finally(() => { inFlight = null; });
  };
  const renew = setInterval(tick, interval(c.ttl));
  renew.unref();
  // After a reconnect (perhaps to a server that lost its store), at once rather than in 2 s.
  const status = nc.status();
  void (async () => {
    for await (const s of status) if (s.type === 'reconnect') tick();
  })();
  return {
    get value() { return value; },
    release: async () => {
      stopped = true;
      clearInterval(renew);
      (status as { stop?: () => void }).stop?.();
      await inFlight;
    },
  };
}

/**
 * {@link markPrefix}, refused by a live holder as it is; any other failure (this NATS user may
 * not use the KV bucket, say) leaves the replica running without the mark, as replicas ran
 * before it existed, with a warning that says what it costs and what to grant.
 */
export async function markPrefixOrWarn(nc: NatsConnection, o: PrefixMarkOptions): Promise<PrefixMark | null> {
  try {
    return await markPrefix(nc, o);
  } catch (err) {
    if (err instanceof SagaError && err.code === 'SAGA_ERR_LEASE_HELD') throw err;
    if (o.signal?.aborted === true) throw err;
    o.log('warn', `could not mark the NATS consumer prefix ${o.prefix} in the KV bucket ${LEASE_BUCKET}: a sagad with a SQLite store on it would not be refused; ` +
      'give this NATS user the bucket\'s subjects (docs/nats-security.md)', { prefix: o.prefix, error: message(err) });
    return null;
  }
}
