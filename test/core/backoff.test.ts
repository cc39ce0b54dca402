import t from 'tap';
import { backoffDelay, canRetry } from '../../engine/core/backoff.js';
import type { RetryPolicy } from '../../engine/core/definition.js';

/** The delay before a retry (DESIGN section 2, retry policies): exponential, capped, jittered on request. */
const policy: RetryPolicy = { maxAttempts: 5, initialInterval: 100, backoffRate: 2, maxInterval: 1_000, jitter: 'none' };

t.test('without jitter: initialInterval times backoffRate per attempt, capped at maxInterval', async (t) => {
  t.same([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(policy, a, 0.5)), [100, 200, 400, 800, 1_000, 1_000]);
  t.equal(backoffDelay(policy, 0, 0.5), 100, 'attempt 0 counts as the first');
  t.equal(backoffDelay({ ...policy, backoffRate: 1.5 }, 2, 0), 150, 'a fractional rate');
  t.equal(backoffDelay({ ...policy, initialInterval: 333, backoffRate: 1.5 }, 2, 0), 499, 'rounded down to whole ms');
});

t.test('full jitter: a share of the capped delay given by random, rounded down', async (t) => {
  const full: RetryPolicy = { ...policy, jitter: 'full' };
  t.equal(backoffDelay(full, 3, 0), 0);
  t.equal(backoffDelay(full, 3, 0.5), 200, 'half of 400');
  t.equal(backoffDelay(full, 3, 0.999), 399, 'just under the whole of 400');
  t.equal(backoffDelay(full, 9, 0.25), 250, 'a quarter of the cap');
  t.equal(backoffDelay(full, 1, 0.337), 33);
});

t.test('canRetry: below maxAttempts, or always when there is no limit', async (t) => {
  t.same([1, 4, 5, 6].map((a) => canRetry(policy, a)), [true, true, false, false]);
  t.ok(canRetry({ ...policy, maxAttempts: null }, 1_000_000));
});

t.test('a zero first interval stays zero however many attempts: no NaN once the power overflows', async (t) => {
  const zero: RetryPolicy = { ...policy, maxAttempts: null, initialInterval: 0 };
  t.same([1, 1_025, 5_000].map((a) => backoffDelay(zero, a, 0.5)), [0, 0, 0]);
  t.equal(backoffDelay({ ...policy, maxAttempts: null }, 5_000, 0.5), 1_000, 'a positive one reaches the cap and stays there');
  t.equal(backoffDelay({ ...zero, backoffRate: 10, jitter: 'full' }, 400, 0.5), 0, 'with jitter too');
});
