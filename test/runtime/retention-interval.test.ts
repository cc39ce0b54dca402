import { join } from 'node:path';
import t from 'tap';
import { ArchiveWriter } from '../../engine/archive/writer.js';
import { RetentionService } from '../../engine/runtime/retention.js';
import type { StorePort } from '../../engine/store/port.js';

/**
 * A SAGA_RETENTION_INTERVAL longer than setTimeout takes (2^31-1 ms, about 24.8 days): Node
 * would run the timer after 1 ms, with a TimeoutOverflowWarning, and passes would run back to
 * back. The real service, on its own schedule, over a store that counts its passes.
 */
t.test('an interval of 30 days: the first pass runs, and no other follows it', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));

  let passes = 0;
  // Only what a pass calls: one batch that archived one instance (so that the pass is logged), and no dead letters.
  const store = {
    retire: async () => {
      passes += 1;
      return { archived: 1, deleted: 1, busyMs: 0, next: null };
    },
    pruneDeadLetters: async () => 0,
  } as unknown as StorePort;
  let passed: () => void = () => undefined;
  const firstPass = new Promise<void>((resolve) => {
    passed = resolve;
  });
  const service = new RetentionService(store, {
    retentionMs: 86_400_000, dlqRetentionMs: null, intervalMs: 30 * 86_400_000, batch: 100,
    archive: new ArchiveWriter({ dir: join(t.testdir(), 'archive'), definition: async () => undefined }),
    log: (_level, msg) => {
      if (msg === 'retention pass') passed();
    },
  });
  t.teardown(() => service.stop());
  service.start();
  // The service's timer does not keep the process alive (it is unref'd); this one does, and bounds the wait.
  let deadline: NodeJS.Timeout | undefined;
  await Promise.race([firstPass, new Promise((_, reject) => {
    deadline = setTimeout(() => reject(new Error('no retention pass within 10 s')), 10_000);
  })]);
  clearTimeout(deadline);
  t.equal(passes, 1, 'the first pass, soon after the start');
  // Nothing to wait for: a second pass would come within a few ms of the first.
  await new Promise((r) => setTimeout(r, 200));
  t.equal(passes, 1, 'no second pass within 200 ms');
  t.same(warnings.filter((w) => w === 'TimeoutOverflowWarning'), [], 'and no timer overflowed');
});
