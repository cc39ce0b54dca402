import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves once `cond` holds, polled every `everyMs`; throws naming `what` after `withinMs`.
 * For conditions no event announces: work in a background loop, a file written by a thread.
 */
export async function until(cond: () => boolean | Promise<boolean>, what: string, { withinMs = 10_000, everyMs = 5 } = {}): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
