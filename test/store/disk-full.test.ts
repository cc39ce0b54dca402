import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import type { InstanceState } from '../../engine/core/index.js';
import { openStore } from '../../engine/store/index.js';
import { feed, reply, startInstance, TestEnv } from './fixtures/saga.js';

/**
 * The store on a full disk (a 4 MB tmpfs filled by the test; mounting needs root, as the
 * README's test command runs): a transaction that cannot be written fails with SQLITE_FULL
 * and leaves nothing behind, not even in the store's cache of states; what was committed
 * before stays; once space returns the same input commits and the file is sound.
 */
const disk = mkdtempSync(join(tmpdir(), 'sagad-store-full-'));
execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk]);
t.teardown(() => {
  execFileSync('umount', ['-l', disk]);
  rmSync(disk, { recursive: true, force: true });
});

/** Writes into `file` until the file system is full. */
function fill(file: string): void {
  const fd = openSync(file, 'a');
  try {
    for (;;) writeSync(fd, Buffer.alloc(16 * 1024, 1));
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

t.test('a full disk fails the transaction whole; space back, the same input commits', async (t) => {
  const file = join(disk, 'sagad.db');
  const filler = join(disk, 'filler');
  const store = openStore(file, { background: true, onBackgroundError: () => undefined });
  t.teardown(() => store.close());
  const env = new TestEnv();
  const committed: InstanceState[] = [];
  for (let i = 0; i < 20; i++) committed.push(startInstance(store, env, `before-${i}`));
  fill(filler);

  // The WAL may still have room for a few commits: go on until one fails.
  let failure: unknown = null;
  let n = 0;
  for (; n < 10_000 && failure === null; n++) {
    try {
      // A start with a large outgoing message, in one transaction.
      store.tx(() => {
        startInstance(store, env, `during-${n}`);
        store.enqueue([{ messageId: `pad-${n}`, subject: 'pad', headers: {}, data: Buffer.alloc(4096, 2) }]);
      });
    } catch (err) {
      failure = err;
    }
  }
  t.match(failure, { code: 'SQLITE_FULL' }, 'a commit failed with SQLITE_FULL');
  const failed = `during-${n - 1}`;
  t.equal(store.getInstance(failed), undefined, 'the instance of the failed commit does not exist, not even in the cache');
  t.equal(store.history(failed).length, 0, 'nor does its journal');

  // An input to an existing instance fails whole too: its state stays the committed one.
  const s = committed[0];
  if (s === undefined) throw new Error('no instance');
  const input = reply(s, 'reserve', 'Done', env);
  t.throws(() => feed(store, env, s, input), { code: 'SQLITE_FULL' }, 'a reply cannot be committed either');
  t.same(store.getInstance(s.id), s, 'the instance is as it was committed');
  t.equal(store.history(s.id).length, s.version, 'with its journal');
  t.same(committed.map((c) => store.getInstance(c.id)?.version), committed.map((c) => c.version), 'everything committed before is there');

  rmSync(filler);
  const after = feed(store, env, s, input);
  t.equal(store.getInstance(s.id)?.version, after.version, 'with space back, the same input commits');
  t.equal(store.history(s.id).length, after.version, 'its journal has the events');
  startInstance(store, env, failed);
  t.equal(store.getInstance(failed)?.id, failed, 'and the start that failed can be made again');

  const check = new Database(file, { readonly: true });
  t.teardown(() => check.close());
  t.same(check.pragma('integrity_check'), [{ integrity_check: 'ok' }], 'the file is sound');
});
