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
/** Two hex digits of each byte value. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/**
 * Creates a UUIDv7 generator (RFC 9562) whose ids strictly increase, even within one millisecond
 * or when the clock steps back, by using the 12-bit `rand_a` field as a counter (method 1).
 * The string is built from a table of hex digits, without buffers in between: several ids are
 * made per saga.
 */
export function createUuidv7(): (nowMs?: number, random?: RandomBytes) => string {
  let lastMs = -1;
  let counter = 0;
  return (nowMs = Date.now(), random = pooledRandomBytes) => {
    if (!Number.isFinite(nowMs) || nowMs < 0 || nowMs > MAX_MS) throw new RangeError(`uuidv7: timestamp out of range: ${nowMs}`);
    const r = random(10);
    if (r.length < 10) throw new RangeError('uuidv7: random source returned fewer than 10 bytes');
    // Seeding the counter below 0x800 leaves at least 2048 ids per millisecond before it overflows.
    const seed = ((r[0]! << 8) | r[1]!) & 0x7ff;
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
    const hi = Math.floor(ms / 2 ** 32);
    const lo = ms % 2 ** 32;
    return `${HEX[(hi >>> 8) & 0xff]}${HEX[hi & 0xff]}${HEX[lo >>> 24]}${HEX[(lo >>> 16) & 0xff]}-${HEX[(lo >>> 8) & 0xff]}${HEX[lo & 0xff]}`
      + `-${HEX[0x70 | (counter >>> 8)]}${HEX[counter & 0xff]}-${HEX[0x80 | (r[2]! & 0x3f)]}${HEX[r[3]!]}`
      + `-${HEX[r[4]!]}${HEX[r[5]!]}${HEX[r[6]!]}${HEX[r[7]!]}${HEX[r[8]!]}${HEX[r[9]!]}`;
  };
}

/** Returns a new UUIDv7 string; ids from this process are strictly increasing. */
export const uuidv7 = createUuidv7();
