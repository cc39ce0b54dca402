import { randomBytes } from 'node:crypto';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { RetiredInstance } from '../store/retention.js';
import { ARCHIVE_FORMAT, encodeLine } from './format.js';

const gzipAsync = promisify(gzip);

/** Options of {@link ArchiveWriter}. */
export interface ArchiveWriterOptions {
  readonly dir: string;
  /** A new file after this long, ms; default one hour. */
  readonly rotateMs?: number;
  /** A new file once the current one has this many bytes; default {@link ROTATE_BYTES}. */
  readonly rotateBytes?: number;
  /** The definition source of a hash (for the definition line a file carries once). */
  readonly definition: (hash: string) => Promise<{ name: string; source: string } | undefined>;
  readonly now?: () => number;
  /** gzip level, 1 (fast) to 9 (small); default 6. */
  readonly level?: number;
}

interface OpenFile {
  readonly path: string;
  readonly fh: FileHandle;
  readonly openedAt: number;
  readonly hashes: Set<string>;
  /** Bytes of whole members written so far. */
  size: number;
}

/**
 * A file is closed for a new one once it reaches this size (256 MiB), whatever its age: a
 * file stays small enough to copy, and to read with tools that read a file whole (Node's
 * `readFile` refuses one past 2 GiB).
 */
export const ROTATE_BYTES = 256 * 1024 * 1024;

/** Pure: the file name of an archive file opened at `at`: sorting the names sorts them by time. */
export function archiveFileName(at: number, suffix: string): string {
  const stamp = new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `sagad-archive-${stamp}-${suffix}.ndjson.gz`;
}

/**
 * Appends batches of instances to gzip'd NDJSON files in a directory, each batch one gzip
 * member, synced to disk before `append` resolves: once it resolves, the instances survive a
 * crash and may be deleted from the store. Every writer (every process, every start) opens
 * files of its own, so a member cut short by a crash can only be a file's last; after a
 * failed write the file is abandoned for a new one for the same reason. Files rotate by time
 * and by size: a file may pass `rotateBytes` by one batch at most.
 */
export class ArchiveWriter {
  private current: OpenFile | null = null;
  private readonly rotateMs: number;
  private readonly rotateBytes: number;
  private readonly now: () => number;
  private readonly level: number;

  constructor(private readonly opts: ArchiveWriterOptions) {
    this.rotateMs = opts.rotateMs ?? 3_600_000;
    this.rotateBytes = opts.rotateBytes ?? ROTATE_BYTES;
    this.level = opts.level ?? 6;
    this.now = opts.now ?? Date.now;
  }

  /** Writes the instances as one gzip member and syncs the file; resolves with the file and the compressed size. */
  async append(records: readonly RetiredInstance[]): Promise<{ file: string; bytes: number }> {
    const file = await this.file();
    try {
      const lines: string[] = [];
      const at = this.now();
      const added = new Set<string>();
      for (const r of records) {
        const hash = r.definitionHash;
        if (!file.hashes.has(hash) && !added.has(hash)) {
          added.add(hash);
          const def = await this.opts.definition(hash);
          if (def !== undefined) lines.push(encodeLine({ format: ARCHIVE_FORMAT, kind: 'definition', hash, name: def.name, source: def.source }));
        }
        // The documents are spliced in as the store keeps them: the same line as encodeLine
        // would write for the parsed documents, without parsing them.
        lines.push(`{"format":"${ARCHIVE_FORMAT}","kind":"instance","archivedAt":${at},"instance":${r.json.state},"journal":${r.json.journal},"timers":${r.json.timers}}\n`);
      }
      const member = await gzipAsync(Buffer.from(lines.join('')), { level: this.level });
      // A write may take fewer bytes than given without an error (a full disk, a file size
      // limit): the rest is written, or the error of trying is thrown. Believed whole, a cut
      // member was synced, and the instances in its lost part deleted.
      for (let done = 0; done < member.length;) {
        const { bytesWritten } = await file.fh.write(member, done, member.length - done, file.size + done);
        if (bytesWritten <= 0) throw new Error(`the archive file ${file.path} took no more bytes (${done} of ${member.length} written)`);
        done += bytesWritten;
      }
      await file.fh.datasync();
      file.size += member.length;
      for (const hash of added) file.hashes.add(hash);
      return { file: file.path, bytes: member.length };
    } catch (err) {
      // A member may be half written: it is cut off where the last whole one ended, if the
      // file lets us, and nothing goes after it (the next append opens a new file).
      await file.fh.truncate(file.size).catch(() => undefined);
      await this.close();
      throw err;
    }
  }

  /** Closes the current file (the next append opens a new one). */
  async close(): Promise<void> {
    const f = this.current;
    this.current = null;
    await f?.fh.close().catch(() => undefined);
  }

  private async file(): Promise<OpenFile> {
    const now = this.now();
    const c = this.current;
    if (c !== null && now - c.openedAt < this.rotateMs && c.size < this.rotateBytes) return c;
    await this.close();
    await this.makeDir();
    const path = join(this.opts.dir, archiveFileName(now, randomBytes(4).toString('hex')));
    const fh = await open(path, 'wx');
    // The new name must be durable too, or a synced file could vanish with its directory entry.
    await syncDir(this.opts.dir);
    this.current = { path, fh, openedAt: now, hashes: new Set(), size: 0 };
    return this.current;
  }

  /**
   * Makes the archive directory if it is missing. The entry of each directory made is synced
   * in its parent, or a crash could lose the directory, and with it files synced inside it.
   */
  private async makeDir(): Promise<void> {
    const first = await mkdir(this.opts.dir, { recursive: true });
    if (first === undefined) return;
    // `first` is the top directory made; each one below it, down to `dir`, was made too.
    const top = resolve(first);
    for (let d = resolve(this.opts.dir); ; d = dirname(d)) {
      await syncDir(dirname(d));
      if (d === top || d === dirname(d)) break;
    }
  }
}

/** Syncs a directory, so that the entries made in it survive a crash. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
