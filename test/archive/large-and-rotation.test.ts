/**
 * An archive file of any size is read a member at a time, never whole (Node's `readFile`
 * refuses a file past 2 GiB, and a file it refuses would hide every instance in it), and the
 * writer starts a new file once the current one reaches its size cap. Memory is measured after
 * a full GC at each line read: the reader holds about one member, not the file. The writer's
 * directory syncs are recorded through node:fs/promises.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type { FileHandle } from 'node:fs/promises';
import { mkdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { ARCHIVE_FORMAT } from '../../engine/archive/format.js';
import { READ_BYTES } from '../../engine/archive/members.js';
import { archiveFiles, listArchived, readArchiveFile } from '../../engine/archive/reader.js';
import { archiveFileName, ArchiveWriter } from '../../engine/archive/writer.js';
import type { RetiredInstance } from '../../engine/store/retention.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The bytes of buffers alive, after a full GC; V8 frees the memory of collected buffers a moment after it. */
async function buffersHeld(rounds = 1): Promise<number> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 5));
  }
  return process.memoryUsage().arrayBuffers;
}

/** A finished instance as the store hands it over, its state padded to `pad` bytes. */
function retired(id: string, pad = 0): RetiredInstance {
  const state = { id, saga: 'order', key: null, correlationId: `c-${id}`, status: 'completed', definitionHash: 'h-1', createdAt: 1_000, updatedAt: 2_000, version: 1, steps: {}, pad: 'x'.repeat(pad) };
  return { id, version: 1, definitionHash: 'h-1', json: { state: JSON.stringify(state), journal: '[]', timers: '[]' } };
}

const definitions = async () => ({ name: 'order', source: 'the source' });

const MiB = 1024 * 1024;

t.test('a file is read a member at a time: members longer than one read, a cut-short tail, memory for about one member', async (t) => {
  const dir = t.testdir();
  // Stored, not compressed (level 0): each member is as long as its text, 1.5 reads long.
  const w = new ArchiveWriter({ dir, level: 0, definition: definitions });
  const n = 24;
  for (let i = 0; i < n; i++) await w.append([retired(`big-${String(i).padStart(2, '0')}`, 1.5 * MiB)]);
  const last = await w.append([retired('tail-1', 0.6 * MiB), retired('tail-2', 0.6 * MiB), retired('tail-3', 0.6 * MiB)]);
  await w.close();
  const size = statSync(last.file).size;
  t.ok(size > 36 * MiB, `a file of ${size} bytes`);
  // A crash while the last batch was written: its third line is cut.
  truncateSync(last.file, size - last.bytes + Math.floor(2.3 * 0.6 * MiB));

  const problems: string[] = [];
  const ids: string[] = [];
  const baseline = await buffersHeld(3);
  const held: number[] = [];
  for await (const l of readArchiveFile(last.file, (p) => problems.push(p))) {
    if (l.kind === 'instance') ids.push(l.instance.id);
    held.push(await buffersHeld() - baseline);
  }
  t.same(ids, [...Array.from({ length: n }, (_, i) => `big-${String(i).padStart(2, '0')}`), 'tail-1', 'tail-2'],
    'every whole member, and the complete lines of the cut one');
  t.equal(problems.length, 1, 'one problem:');
  t.match(problems[0], /byte \d+: the last gzip member is cut short/, 'the cut');
  const peak = Math.max(...held);
  // Reading it whole held all of it (38.9 MiB); a member at a time about one window and member
  // (3.5 MiB quietly, 11.5 MiB in a loaded CI run, where collections come later): half is the line.
  t.ok(peak < size / 2, `held ${(peak / MiB).toFixed(1)} MiB at most of a ${(size / MiB).toFixed(1)} MiB file`);
});

t.test('bytes that are not a member, across the boundary of two reads: the member after them is found', async (t) => {
  const dir = t.testdir();
  const line = (id: string) => `${JSON.stringify({ format: ARCHIVE_FORMAT, kind: 'instance', archivedAt: 1, instance: JSON.parse(retired(id).json.state) as unknown, journal: [], timers: [] })}\n`;
  const first = gzipSync(Buffer.from(line('a-1')));
  // The search for the next member starts one byte into the junk and reads READ_BYTES at a
  // time: the next member's magic starts two bytes before the end of that first read.
  const junk = Buffer.alloc(READ_BYTES - 1);
  const file = join(dir, archiveFileName(Date.now(), 'junk'));
  writeFileSync(file, Buffer.concat([first, junk, gzipSync(Buffer.from(line('b-1'))), gzipSync(Buffer.from(line('c-1')))]));
  const problems: string[] = [];
  const ids: string[] = [];
  for await (const l of readArchiveFile(file, (p) => problems.push(p))) if (l.kind === 'instance') ids.push(l.instance.id);
  t.same(ids, ['a-1', 'b-1', 'c-1']);
  t.same(problems, [`${file}: byte ${first.length}: ${junk.length} bytes are not a gzip member`]);
});

t.test('the writer starts a new file once the current one reaches its size cap; each file reads on its own', async (t) => {
  const dir = t.testdir();
  const cap = 4_000;
  const w = new ArchiveWriter({ dir, rotateBytes: cap, level: 0, definition: definitions });
  const appended: { file: string; bytes: number }[] = [];
  for (let i = 0; i < 10; i++) appended.push(await w.append([retired(`i-${i}`, 1_000)]));
  await w.close();
  const files = await archiveFiles(dir);
  t.ok(files.length >= 3, `${files.length} files`);
  const biggest = Math.max(...appended.map((a) => a.bytes));
  for (const f of files) {
    const size = statSync(f).size;
    t.ok(size < cap + biggest, `${f}: ${size} bytes, past the cap by less than one batch`);
    const lines = [];
    for await (const l of readArchiveFile(f)) lines.push(l);
    t.equal(lines[0]?.kind, 'definition', 'a file starts with its definition');
  }
  t.equal(new Set(appended.map((a) => a.file)).size, files.length, 'each file the writer opened is one listed');
  t.equal((await listArchived(dir, {}, 100)).total, 10, 'every instance read back');
});

/**
 * `open` of node:fs/promises replaced, for the writer too (its named import is a live binding
 * of the builtin), by one that records each directory synced.
 */
function recordDirSyncs(t: { teardown(fn: () => void): void }): string[] {
  const fsp = createRequire(import.meta.url)('node:fs/promises') as { open: (path: string, flags?: string) => Promise<FileHandle> };
  const real = fsp.open;
  const synced: string[] = [];
  fsp.open = async (path, flags) => {
    const fh = await real(path, flags);
    if (flags === 'r' && statSync(path).isDirectory()) {
      const sync = fh.sync.bind(fh);
      fh.sync = async () => {
        await sync();
        synced.push(path);
      };
    }
    return fh;
  };
  syncBuiltinESMExports();
  t.teardown(() => {
    fsp.open = real;
    syncBuiltinESMExports();
  });
  return synced;
}

t.test('a directory the writer makes is synced in its parent, and so is each one it made above it', async (t) => {
  const root = t.testdir();
  const synced = recordDirSyncs(t);
  const dir = join(root, 'a', 'b', 'archive');
  const w = new ArchiveWriter({ dir, definition: definitions });
  await w.append([retired('i-1')]);
  await w.close();
  t.same([...synced].sort(), [root, join(root, 'a'), join(root, 'a', 'b'), dir].sort(),
    'the parents of archive, b and a (their entries), and archive itself (the file\'s entry)');
  t.equal(synced.filter((d) => d === dirname(dir)).length, 1, 'each once');

  synced.length = 0;
  mkdirSync(join(root, 'there'));
  const again = new ArchiveWriter({ dir: join(root, 'there'), definition: definitions });
  await again.append([retired('i-2')]);
  await again.close();
  t.same(synced, [join(root, 'there')], 'a directory that exists: only the new file\'s entry');
});
