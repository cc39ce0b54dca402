import { randomFillSync } from 'node:crypto';

/** Message and instance ids: UUIDv7 (DESIGN section 3), from a pool of random bytes. */

/** A source of random bytes; defaults to node:crypto. */
export type RandomBytes = (size: number) => Uint8Array;

const POOL_SIZE = 8192;
let pool = new Uint8Array(0);
let poolAt = 0;

/**
 * Cryptographically random bytes from node:crypto, drawn 8 KiB at a time (a call per id cost
 * about 5% of the engine's CPU). Each byte is handed out once; a refill allocates a new pool,
 * so a returned view is never overwritten. `size` must not exceed 8 KiB.
 */
export function pooledRandomBytes(size: number): Uint8Array {
  if (size > POOL_SIZE) throw new RangeError(`pooledRandomBytes: at most ${POOL_SIZE} bytes, not ${size}`);
  if (poolAt + size > pool.length) {
    pool = randomFillSync(new Uint8Array(POOL_SIZE));
    poolAt = 0;
  }
  const out = pool.subarray(poolAt, poolAt + size);
  poolAt += size;
  return out;
}

const MAX_MS = 2 ** 48 - 1;

/**
 * Creates a UUIDv7 generator (RFC 9562) whose ids strictly increase, even within one millisecond
 * or when the clock steps back, by using the 12-bit `rand_a` field as a counter (method 1).
 */
export function createUuidv7(): (nowMs?: number, random?: RandomBytes) => string {
  let lastMs = -1;
  let counter = 0;
  return (nowMs = Date.now(), random = pooledRandomBytes) => {
    if (!Number.isFinite(nowMs) || nowMs < 0 || nowMs > MAX_MS) throw new RangeError(`uuidv7: timestamp out of range: ${nowMs}`);
    const rnd = new DataView(Uint8Array.from(random(10).subarray(0, 10)).buffer);
    if (rnd.byteLength < 10) throw new RangeError('uuidv7: random source returned fewer than 10 bytes');
    // Seeding the counter below 0x800 leaves at least 2048 ids per millisecond before it overflows.
    const seed = rnd.getUint16(0) & 0x7ff;
    let ms = Math.floor(nowMs);
    if (ms > lastMs) {
      counter = seed;
    } else {
      ms = lastMs;
      counter += 1;
      if (counter > 0xfff) {
        ms += 1; // borrow from the next millisecond, as RFC 9562 section 6.2 allows
        counter = seed;
      }
    }
    lastMs = ms;
    const out = new Uint8Array(16);
    const view = new DataView(out.buffer);
    view.setUint16(0, Math.floor(ms / 2 ** 32));
    view.setUint32(2, ms % 2 ** 32);
    view.setUint16(6, 0x7000 | counter);
    view.setUint8(8, 0x80 | (rnd.getUint8(2) & 0x3f));
    out.set(new Uint8Array(rnd.buffer, 3, 7), 9);
    const hex = Buffer.from(out).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
}

/** Returns a new UUIDv7 string; ids from this process are strictly increasing. */
export const uuidv7 = createUuidv7();
