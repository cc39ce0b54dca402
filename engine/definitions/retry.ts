import type { RetryPolicy } from '../core/definition.js';
import { parseDuration } from './duration.js';
import type { RawRetry } from './raw.js';

/** The retry policy of a step or compensation that sets nothing, nor do the saga defaults. */
export const BUILT_IN_RETRY: RetryPolicy = Object.freeze({
  maxAttempts: 3,
  initialInterval: 1000,
  backoffRate: 2,
  maxInterval: 30_000,
  jitter: 'full',
});

/** Pure: merges retry blocks field by field, the first that sets a field wins, then built-ins. */
export function resolveRetry(layers: readonly (RawRetry | undefined)[]): RetryPolicy {
  const pick = <K extends keyof RawRetry>(key: K): RawRetry[K] => layers.find((l) => l?.[key] !== undefined)?.[key];
  const maxAttempts = pick('maxAttempts');
  const interval = (text: string | undefined, fallback: number): number =>
    text === undefined ? fallback : (parseDuration(text) ?? fallback);
  return {
    maxAttempts: maxAttempts === undefined ? BUILT_IN_RETRY.maxAttempts : maxAttempts === 'unlimited' ? null : maxAttempts,
    initialInterval: interval(pick('initialInterval'), BUILT_IN_RETRY.initialInterval),
    backoffRate: pick('backoffRate') ?? BUILT_IN_RETRY.backoffRate,
    maxInterval: interval(pick('maxInterval'), BUILT_IN_RETRY.maxInterval),
    jitter: pick('jitter') ?? BUILT_IN_RETRY.jitter,
  };
}
