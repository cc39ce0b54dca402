import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { SagaError } from '../errors.js';
import type { LogFn } from '../log.js';
import type { NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import { bucketGone, encode, interval, isRaceLost, message, openBucket, since, take, type Ctx, type KeySpec, type LeaseValue } from './lease.js';

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
}

/** The mark of a replica: renewed until released. */
export interface PrefixMark {
  readonly value: LeaseValue;
  /** Stops renewing; the mark stays for the other replicas to renew, or expires. */
  release(): void;
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
 * (every replica cut off from NATS past the mark's life while a SQLite sagad started), the
 * replica says so once a minute and writes nothing over it.
 */
export async function markPrefix(nc: NatsConnection, o: PrefixMarkOptions): Promise<PrefixMark> {
  const c: Ctx = { nc, ttl: o.ttlMs ?? DEFAULT_TTL_MS, now: o.now ?? Date.now, log: o.log, signal: new AbortController().signal };
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

  let complainedAt = -Infinity;
  const complain = (msg: string, fields: Record<string, unknown>) => {
    const t = performance.now();
    if (t - complainedAt < COMPLAIN_EVERY_MS) return;
    complainedAt = t;
    o.log('error', msg, { prefix: o.prefix, ...fields });
  };
  let renewing = false;
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
    if (other !== null && !shares(other)) {
      complain('another sagad took the NATS consumer prefix these replicas use; it takes their replies until it stops', {
        holder: other.holder, host: other.host, pid: other.pid, database: other.db, store: other.store ?? 'sqlite',
      });
      return;
    }
    try {
      if (entry === null || other === null) await kv.create(spec.key, encode(next));
      else await kv.update(spec.key, encode(next), entry.revision);
      value = next;
    } catch (err) {
      // Another replica wrote first: its stamp is as good as this one's.
      if (!isRaceLost(err)) throw err;
    }
  };
  const renew = setInterval(() => {
    if (renewing || stopped) return;
    renewing = true;
    renewOnce().catch((err: unknown) => {
      o.log('warn', 'could not renew the mark of the NATS consumer prefix; retrying', { prefix: o.prefix, error: message(err) });
    }).finally(() => { renewing = false; });
  }, interval(c.ttl));
  renew.unref();
  return {
    get value() { return value; },
    release: () => {
      stopped = true;
      clearInterval(renew);
    },
  };
}
