import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipMembers } from './members.js';
import { newer, parseLine, sameInstance, type ArchivedDefinition, type ArchivedInstance, type ArchiveLine } from './format.js';

const FILE_RE = /^sagad-archive-.*\.ndjson\.gz$/;

/** The archive files in `dir`, oldest first (their names start with the time they were opened). */
export async function archiveFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => FILE_RE.test(n)).sort().map((n) => join(dir, n));
}

/**
 * The lines of one archive file, in order. The file is read a window at a time (never whole:
 * it may be larger than one read can take) and each gzip member (a batch the writer synced)
 * inflated on its own: a damaged member is reported through `bad` and skipped, and the members
 * around it are read. A file whose last member was cut short (a crash while writing it) yields
 * what came before; an unfinished last line is dropped: the instances on it were not yet
 * synced, so they were never deleted from the store either. Lines that are not archive records
 * are reported through `bad` and skipped.
 */
export async function* readArchiveFile(file: string, bad: (problem: string) => void = () => undefined): AsyncGenerator<ArchiveLine> {
  const cannot = (err: unknown) => bad(`${file}: cannot be read: ${err instanceof Error ? err.message : String(err)}`);
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    cannot(err);
    return;
  }
  try {
    let n = 0;
    for await (const member of gzipMembers(fh, (await fh.stat()).size, (at, what) => bad(`${file}: byte ${at}: ${what}`))) {
      // Split as bytes: a newline byte is never part of another UTF-8 character. What follows
      // the last newline is unfinished (a cut member), or empty.
      for (let from = 0, nl = member.indexOf(0x0a); nl >= 0; from = nl + 1, nl = member.indexOf(0x0a, from)) {
        n += 1;
        if (nl === from) continue;
        const line = parseLine(member.toString('utf8', from, nl));
        if ('problem' in line) bad(`${file}:${n}: ${line.problem}`);
        else yield line;
      }
    }
  } catch (err) {
    // An I/O error part way: the lines before it were read.
    cannot(err);
  } finally {
    await fh.close().catch(() => undefined);
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
