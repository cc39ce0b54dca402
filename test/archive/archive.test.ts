import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import t from 'tap';
import { ARCHIVE_FORMAT, newer, parseLine, type ArchivedInstance } from '../../engine/archive/format.js';
import { archiveFiles, findArchived, listArchived, readArchiveFile } from '../../engine/archive/reader.js';
import { archiveFileName, ArchiveWriter } from '../../engine/archive/writer.js';
import type { InstanceState } from '../../engine/core/index.js';
import type { RetiredInstance } from '../../engine/store/retention.js';

/** A finished instance as the store hands it over; only the fields the archive reads matter. */
function retired(id: string, version = 3, opts: { saga?: string; createdAt?: number; hash?: string } = {}): RetiredInstance {
  const state = {
    id, saga: opts.saga ?? 'order', key: `k-${id}`, correlationId: `c-${id}`, status: 'completed', definitionHash: opts.hash ?? 'h-1',
    createdAt: opts.createdAt ?? 1_000, updatedAt: 2_000, version, input: { id }, steps: {}, compensation: null, deadlineAt: null,
  } as unknown as InstanceState;
  const journal = Array.from({ length: version }, (_, i) => ({ seq: i + 1, type: i === 0 ? 'SagaStarted' : 'StepSkipped', version: 1, at: 1_000 + i, data: { n: i } }));
  return { id, version, definitionHash: state.definitionHash, json: { state: JSON.stringify(state), journal: JSON.stringify(journal), timers: '[]' } };
}

const definitions = async (hash: string) => ({ name: 'order', source: `source of ${hash}` });

t.test('format: lines round-trip; foreign lines are named; the later version of a duplicate wins', async (t) => {
  const line: ArchivedInstance = { format: ARCHIVE_FORMAT, kind: 'instance', archivedAt: 5, instance: JSON.parse(retired('a').json.state) as InstanceState, journal: [], timers: [] };
  t.same(parseLine(JSON.stringify(line)), line);
  t.match(parseLine('{"format":"other/9"}'), { problem: /format "other\/9", not sagad-archive\/1/ });
  t.match(parseLine('nope'), { problem: 'not JSON' });
  t.match(parseLine(`{"format":"${ARCHIVE_FORMAT}","kind":"instance"}`), { problem: /not an archived instance/ });
  const v4 = { ...line, instance: JSON.parse(retired('a', 4).json.state) as InstanceState, archivedAt: 1 };
  t.equal(newer(line, v4), v4, 'higher version wins even when written earlier');
  const again = { ...line, archivedAt: 9 };
  t.equal(newer(line, again), again, 'same version: the later write');
  t.equal(archiveFileName(Date.UTC(2026, 10, 27, 10, 5, 7, 123), 'ab12'), 'sagad-archive-20261127T100507Z-ab12.ndjson.gz');
});

t.test('each append is a synced gzip member; a file holds each definition once; files rotate by time', async (t) => {
  const dir = join(t.testdir(), 'archive');
  let now = Date.UTC(2026, 0, 1);
  const w = new ArchiveWriter({ dir, rotateMs: 60_000, definition: definitions, now: () => now });
  const a = await w.append([retired('i-1'), retired('i-2')]);
  const b = await w.append([retired('i-3', 3, { hash: 'h-2' }), retired('i-4')]);
  t.equal(a.file, b.file, 'one file within the rotation period');
  t.equal(statSync(a.file).size, a.bytes + b.bytes, 'the bytes reported are the bytes written');
  now += 60_000;
  const c = await w.append([retired('i-5')]);
  t.not(c.file, a.file, 'a new file once the period is over');
  await w.close();
  t.same((await archiveFiles(dir)).length, 2);

  // gunzip reads concatenated members as one stream, as any gzip tool does.
  const lines = gunzipSync(readFileSync(a.file)).toString().trim().split('\n').map((l) => JSON.parse(l) as { kind: string; hash?: string; instance?: { id: string } });
  t.same(lines.map((l) => l.kind === 'definition' ? `def ${l.hash}` : l.instance?.id), ['def h-1', 'i-1', 'i-2', 'def h-2', 'i-3', 'i-4']);
  const second = gunzipSync(readFileSync(c.file)).toString().trim().split('\n');
  t.equal(second.length, 2, 'a new file carries its definition again: each file reads on its own');

  const found = await findArchived(dir, 'i-3');
  t.equal(found?.record.instance.id, 'i-3');
  t.equal(found?.record.journal.length, 3);
  t.equal(found?.definitions.get('h-2')?.source, 'source of h-2');
  t.equal(await findArchived(dir, 'nope'), undefined);
});

t.test('a writer never appends to a file it did not open: a second writer (a restart) starts its own', async (t) => {
  const dir = t.testdir();
  const w1 = new ArchiveWriter({ dir, definition: definitions });
  await w1.append([retired('i-1')]);
  const w2 = new ArchiveWriter({ dir, definition: definitions });
  await w2.append([retired('i-2')]);
  await Promise.all([w1.close(), w2.close()]);
  t.equal((await archiveFiles(dir)).length, 2);
});

t.test('a member cut short by a crash: the complete lines before it stand, the file is still listed', async (t) => {
  const dir = t.testdir();
  const w = new ArchiveWriter({ dir, definition: definitions });
  const first = await w.append([retired('i-1'), retired('i-2')]);
  const second = await w.append(Array.from({ length: 50 }, (_, i) => retired(`j-${i}`)));
  await w.close();
  truncateSync(first.file, first.bytes + Math.floor(second.bytes / 2));
  const problems: string[] = [];
  const ids: string[] = [];
  for await (const l of readArchiveFile(first.file, (p) => problems.push(p))) if (l.kind === 'instance') ids.push(l.instance.id);
  t.same(ids.slice(0, 2), ['i-1', 'i-2'], 'the synced batch is read whole');
  t.ok(ids.length < 52, 'the cut batch is not read whole');
  t.ok(ids.every((id) => id === 'i-1' || id === 'i-2' || id.startsWith('j-')), 'and no line is garbled');

  // Garbage after a member (a torn write of the header) stops that file, not the reader.
  const other = join(dir, archiveFileName(Date.now() + 1_000, 'zz'));
  writeFileSync(other, gzipSync(Buffer.from(`${JSON.stringify({ format: ARCHIVE_FORMAT, kind: 'instance', archivedAt: 1, instance: JSON.parse(retired('k-1').json.state) as InstanceState, journal: [], timers: [] })}\nnot json\n`)));
  appendFileSync(other, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01]));
  const listed = await listArchived(dir, {}, 100, (p) => problems.push(p));
  t.ok(listed.items.some((i) => i.id === 'k-1'), 'a line before the damage is listed');
  t.match(problems.join('\n'), /not JSON/, 'the bad line is reported');
  t.same(readdirSync(dir).length, 2);
});

t.test('an instance archived twice (a crash between sync and delete) is listed once, at its latest version', async (t) => {
  const dir = t.testdir();
  const w = new ArchiveWriter({ dir, definition: definitions });
  await w.append([retired('i-1', 3), retired('i-2', 3, { createdAt: 5_000, saga: 'trip' })]);
  await w.append([retired('i-1', 3)]);
  await w.append([retired('i-1', 7)]);
  await w.close();
  const all = await listArchived(dir, {}, 100);
  t.equal(all.total, 2);
  t.same(all.items.map((i) => [i.id, i.version]), [['i-2', 3], ['i-1', 7]], 'newest created first, each once');
  t.equal((await findArchived(dir, 'i-1'))?.record.instance.version, 7);
  t.same((await listArchived(dir, { saga: 'trip' }, 100)).items.map((i) => i.id), ['i-2'], 'filtered by saga');
  t.same((await listArchived(dir, { since: 2_000 }, 100)).items.map((i) => i.id), ['i-2'], 'and by creation time');
  t.same((await listArchived(dir, {}, 1)).items.map((i) => i.id), ['i-2'], 'limited');
});

t.test('two instances that had the same id (one started after the other was retired) are both listed; find returns the later', async (t) => {
  const dir = t.testdir();
  const w = new ArchiveWriter({ dir, definition: definitions });
  await w.append([retired('order-42', 10, { saga: 'payments', createdAt: 1_000 })]);
  await w.append([retired('order-42', 6, { saga: 'refunds', createdAt: 9_000 })]);
  await w.close();
  const all = await listArchived(dir, {}, 100);
  t.same(all.items.map((i) => [i.id, i.saga, i.version]), [['order-42', 'refunds', 6], ['order-42', 'payments', 10]], 'each, newest created first');
  t.equal((await findArchived(dir, 'order-42'))?.record.instance.saga, 'refunds', 'the one created later, though its version is lower');
});

t.test('a damaged member costs only itself: the members before and after it are read, and the damage is reported', async (t) => {
  const dir = t.testdir();
  const w = new ArchiveWriter({ dir, definition: definitions });
  const a = await w.append([retired('a-1'), retired('a-2')]);
  const b = await w.append([retired('b-1'), retired('b-2')]);
  await w.append([retired('c-1')]);
  await w.close();
  const bytes = readFileSync(a.file);
  // One byte flipped in the middle of the second member's compressed data.
  const at = a.bytes + Math.floor(b.bytes / 2);
  bytes[at] = (bytes[at] ?? 0) ^ 0xff;
  writeFileSync(a.file, bytes);
  const problems: string[] = [];
  const ids: string[] = [];
  for await (const l of readArchiveFile(a.file, (p) => problems.push(p))) if (l.kind === 'instance') ids.push(l.instance.id);
  t.same(ids, ['a-1', 'a-2', 'c-1'], 'the batches before and after the damaged one');
  t.match(problems.join('\n'), /byte \d+: a (damaged gzip member|gzip member fails its checksum)/, 'the damage is reported');

  // A member cut short in the middle of a file (damage from outside): the members after it are read too.
  const cut = join(dir, archiveFileName(Date.now() + 5_000, 'cut'));
  const whole = readFileSync(join(dir, readdirSync(dir).sort()[0] ?? ''));
  writeFileSync(cut, Buffer.concat([gzipSync(Buffer.from(`${JSON.stringify({ format: ARCHIVE_FORMAT, kind: 'instance', archivedAt: 1, instance: JSON.parse(retired('x-1').json.state) as InstanceState, journal: [], timers: [] })}\n`)).subarray(0, 30), whole.subarray(0, a.bytes)]));
  const after: string[] = [];
  for await (const l of readArchiveFile(cut, () => undefined)) if (l.kind === 'instance') after.push(l.instance.id);
  t.same(after, ['a-1', 'a-2'], 'the whole member after the cut one is read');
});
