import type { RetryPolicy } from './definition.js';

/**
 * Pure: the delay in ms before the attempt after `attempt` (1-based), exponential and capped,
 * with full jitter drawn from `random` in [0, 1) when the policy asks for it.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: number): number {
  // A zero first interval stays zero: 0 times an overflowed power (Infinity, from about the
  // 1,025th attempt at rate 2) is NaN, a retry time no timer ever reaches.
  const base = policy.initialInterval <= 0 ? 0
    : Math.min(policy.maxInterval, policy.initialInterval * Math.pow(policy.backoffRate, Math.max(0, attempt - 1)));
  return policy.jitter === 'full' ? Math.floor(random * base) : Math.floor(base);
}

/** Pure: true when another attempt is allowed after `attempt` attempts. */
export function canRetry(policy: RetryPolicy, attempt: number): boolean {
  return policy.maxAttempts === null || attempt < policy.maxAttempts;
}
