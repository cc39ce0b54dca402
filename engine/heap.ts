import { setFlagsFromString } from 'node:v8';

/**
 * Sets how far the JavaScript heap may grow past the live data the last full garbage
 * collection found before V8 runs the next one (V8's `--heap-growing-percent`), for the rest
 * of the process's life; 0 leaves V8's own factor.
 *
 * V8 picks that factor from how cheap its collections are: sagad's live heap is small (about
 * 30 MB at concurrency 1000) and cheap to mark, so V8 lets the old generation reach about four
 * times it, and most of the peak resident memory is garbage waiting for its collection. At 50%
 * a full collection runs about twice a second under load, a few milliseconds each.
 */
export function applyHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growth must be a whole number of percent from 0, not ${percent}`);
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
