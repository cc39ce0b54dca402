import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constants, crc32, inflateRawSync } from 'node:zlib';
import { newer, parseLine, sameInstance, type ArchivedDefinition, type ArchivedInstance, type ArchiveLine } from './format.js';

const FILE_RE = /^sagad-archive-.*\.ndjson\.gz$/;

/** The archive files in `dir`, oldest first (their names start with the time they were opened). */
export async function archiveFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => FILE_RE.test(n)).sort().map((n) => join(dir, n));
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);

/** Pure: the length of the gzip member header at `at` (RFC 1952), or null when there is none whole. */
function headerLength(buf: Buffer, at: number): number | null {
  if (buf.length < at + 10 || buf.compare(GZIP_MAGIC, 0, 3, at, at + 3) !== 0) return null;
  const flags = buf[at + 3] ?? 0;
  let p = at + 10;
  if ((flags & 4) !== 0) p += 2 + buf.readUInt16LE(p);
  for (const bit of [8, 16]) {
    if ((flags & bit) === 0) continue;
    const zero = buf.indexOf(0, p);
    if (zero < 0) return null;
    p = zero + 1;
  }
  if ((flags & 2) !== 0) p += 2;
  return p <= buf.length ? p - at : null;
}

/**
 * Pure: the gzip members of an archive file, each inflated on its own, so that a damaged one
 * costs only itself: the members before it and after it are read (a member is a batch the
 * writer synced whole). A member that fails its CRC or does not inflate is reported and skipped
 * up to the next gzip header. A member cut short at the end of the file (a crash while writing
 * it) gives what it holds so far; its last, unfinished line is dropped by the caller.
 */
function* members(buf: Buffer, problem: (at: number, what: string) => void): Generator<Buffer> {
  let pos = 0;
  while (pos < buf.length) {
    const h = headerLength(buf, pos);
    if (h === null) {
      const next = buf.indexOf(GZIP_MAGIC, pos + 1);
      problem(pos, next < 0 ? `${buf.length - pos} bytes at the end are not a gzip member` : `${next - pos} bytes are not a gzip member`);
      if (next < 0) return;
      pos = next;
      continue;
    }
    let out: Buffer;
    let used: number;
    try {
      const r = inflateRawSync(buf.subarray(pos + h), { info: true, finishFlush: constants.Z_SYNC_FLUSH }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      out = r.buffer;
      used = r.engine.bytesWritten;
    } catch (err) {
      const next = buf.indexOf(GZIP_MAGIC, pos + 1);
      problem(pos, `a damaged gzip member (${err instanceof Error ? err.message : String(err)}) is skipped${next < 0 ? '' : ` up to byte ${next}`}`);
      if (next < 0) return;
      pos = next;
      continue;
    }
    const trailer = pos + h + used;
    if (trailer + 8 > buf.length) {
      // Cut short: the last member of a file whose writer crashed.
      problem(pos, 'the last gzip member is cut short (a crash while it was written); the complete lines before the cut are read');
      yield out;
      return;
    }
    if (buf.readUInt32LE(trailer) !== crc32(out) || buf.readUInt32LE(trailer + 4) !== (out.length >>> 0)) {
      const next = buf.indexOf(GZIP_MAGIC, pos + 1);
      problem(pos, `a gzip member fails its checksum and is skipped${next < 0 ? '' : ` up to byte ${next}`}`);
      if (next < 0) return;
      pos = next;
      continue;
    }
    yield out;
    pos = trailer + 8;
  }
}

/**
 * The lines of one archive file, in order. The file is read whole and each gzip member (a
 * batch the writer synced) inflated on its own: a damaged member is reported through `bad` and
 * skipped, and the members around it are read. A file whose last member was cut short (a crash
 * while writing it) yields what came before; an unfinished last line is dropped: the instances
 * on it were not yet synced, so they were never deleted from the store either. Lines that are
 * not archive records are reported through `bad` and skipped.
 */
export async function* readArchiveFile(file: string, bad: (problem: string) => void = () => undefined): AsyncGenerator<ArchiveLine> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    bad(`${file}: cannot be read: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  let n = 0;
  for (const member of members(buf, (at, what) => bad(`${file}: byte ${at}: ${what}`))) {
    const text = member.toString('utf8');
    const lines = text.split('\n');
    // What follows the last newline is unfinished (a cut member), or empty.
    lines.pop();
    for (const l of lines) {
      n += 1;
      if (l === '') continue;
      const line = parseLine(l);
      if ('problem' in line) bad(`${file}:${n}: ${line.problem}`);
      else yield line;
    }
  }
}

/** An archived instance found by {@link findArchived}, with the definitions its file carries. */
export interface Found {
  readonly record: ArchivedInstance;
  readonly file: string;
  readonly definitions: ReadonlyMap<string, ArchivedDefinition>;
  /** Other archived instances that had the same id (created at other times), not returned. */
  readonly others: number;
}

/** Every line of every file in `dir`, oldest file first. */
export async function* readArchive(dir: string, bad?: (problem: string) => void): AsyncGenerator<{ file: string; line: ArchiveLine }> {
  for (const file of await archiveFiles(dir)) {
    for await (const line of readArchiveFile(file, bad)) yield { file, line };
  }
}

/**
 * The archived instance `id` in `dir`, or undefined. An instance archived twice (a crash
 * between the archive's sync and the delete) is returned once: its latest version. Of two
 * instances that had the id (one started after the other was retired), the later created.
 */
export async function findArchived(dir: string, id: string, bad?: (problem: string) => void): Promise<Found | undefined> {
  let found: Omit<Found, 'others'> | undefined;
  const definitions = new Map<string, ArchivedDefinition>();
  const created = new Set<number>();
  for await (const { file, line } of readArchive(dir, bad)) {
    if (line.kind === 'definition') {
      definitions.set(line.hash, line);
      continue;
    }
    if (line.instance.id !== id) continue;
    created.add(line.instance.createdAt);
    const record = found === undefined ? line : newer(found.record, line);
    if (record === line) found = { record, file, definitions };
  }
  return found === undefined ? undefined : { ...found, others: created.size - 1 };
}

/** What `sagactl archive list` shows of an archived instance. */
export interface ArchivedSummary {
  readonly id: string;
  readonly saga: string;
  readonly key: string | null;
  readonly correlationId: string;
  readonly status: string;
  readonly definitionHash: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly version: number;
  readonly archivedAt: number;
  readonly file: string;
}

/** Filters of {@link listArchived}; `since`/`until` bound the creation time (epoch ms). */
export interface ArchiveFilter {
  readonly saga?: string | undefined;
  readonly status?: string | undefined;
  readonly key?: string | undefined;
  readonly since?: number | undefined;
  readonly until?: number | undefined;
}

/**
 * The archived instances matching `filter`, each once (its latest version), newest created
 * first, at most `limit`; `total` counts every match.
 */
export async function listArchived(dir: string, filter: ArchiveFilter, limit: number, bad?: (problem: string) => void): Promise<{ items: ArchivedSummary[]; total: number }> {
  // Summaries only: an archive of millions of instances does not fit in memory whole. Keyed by
  // id and creation: two instances that had the same id (one started after the other was
  // retired) are both listed.
  const byId = new Map<string, ArchivedSummary>();
  for await (const { file, line } of readArchive(dir, bad)) {
    if (line.kind !== 'instance') continue;
    const s = line.instance;
    if (filter.saga !== undefined && s.saga !== filter.saga) continue;
    if (filter.status !== undefined && s.status !== filter.status) continue;
    if (filter.key !== undefined && s.key !== filter.key) continue;
    if (filter.since !== undefined && s.createdAt < filter.since) continue;
    if (filter.until !== undefined && s.createdAt > filter.until) continue;
    const before = byId.get(sameInstance(s));
    if (before !== undefined && (before.version > s.version || (before.version === s.version && before.archivedAt > line.archivedAt))) continue;
    byId.set(sameInstance(s), {
      id: s.id, saga: s.saga, key: s.key, correlationId: s.correlationId, status: s.status, definitionHash: s.definitionHash,
      createdAt: s.createdAt, updatedAt: s.updatedAt, version: s.version, archivedAt: line.archivedAt, file,
    });
  }
  const all = [...byId.values()].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return { items: all.slice(0, limit), total: all.length };
}
