import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openStore } from '../../engine/store/index.js';
import { startInstance, TestEnv } from './fixtures/saga.js';

/** Files this process has open whose path names an SQLite temporary file. */
const openTempFiles = (): string[] => readdirSync('/proc/self/fd').flatMap((fd) => {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    return target.includes('etilqs_') ? [target] : [];
  } catch {
    return [];
  }
});

t.test('a large transaction of instance inserts (statements that fire triggers) opens no temporary file', async (t) => {
  const store = openStore(join(t.testdir(), 'tmp.db'));
  t.teardown(() => store.close());
  const env = new TestEnv();
  let seen: string[] = [];
  store.tx(() => {
    // Each insert fires the instance counts' trigger, so SQLite journals the pages it changes;
    // 500 of them in one transaction are far past the 64 KiB that a file-backed journal spills at.
    for (let i = 0; i < 500; i++) startInstance(store, env, `i-${i}`);
    seen = openTempFiles();
  });
  t.same(seen, [], 'the statement journal stayed in memory');
  t.equal(store.countByStatus().reduce((n, r) => n + r.count, 0), 500, 'and every insert was counted');
});
