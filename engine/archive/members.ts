import type { FileHandle } from 'node:fs/promises';
import { constants, crc32, inflateRawSync } from 'node:zlib';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);

/**
 * Bytes read from an archive file at a time. A member longer than this is read in a window
 * that doubles until it holds the whole member: a file of any size is read with the memory
 * of about one member, where reading it whole failed past 2 GiB (ERR_FS_FILE_TOO_LARGE).
 */
export const READ_BYTES = 1 << 20;

/** The longest member read, compressed; a longer one is reported and skipped (the writer's batches are far shorter). */
const MAX_MEMBER_BYTES = 1 << 30;

/** Pure: the length of the gzip member header at the start of `buf` (RFC 1952), or null when there is none whole. */
function headerLength(buf: Buffer): number | null {
  if (buf.length < 10 || buf.compare(GZIP_MAGIC, 0, 3, 0, 3) !== 0) return null;
  const flags = buf[3] ?? 0;
  let p = 10;
  if ((flags & 4) !== 0) p += 2 + buf.readUInt16LE(p);
  for (const bit of [8, 16]) {
    if ((flags & bit) === 0) continue;
    const zero = buf.indexOf(0, p);
    if (zero < 0) return null;
    p = zero + 1;
  }
  if ((flags & 2) !== 0) p += 2;
  return p <= buf.length ? p : null;
}

/** What {@link memberAt} found at the start of a window. */
type Found =
  | { readonly kind: 'whole'; readonly data: Buffer; readonly length: number }
  | { readonly kind: 'cut'; readonly data: Buffer }
  | { readonly kind: 'longer' }
  | { readonly kind: 'junk' }
  | { readonly kind: 'bad'; readonly what: string };

/**
 * Pure: the gzip member at the start of `buf`, inflated. `last` says that `buf` runs to the end
 * of the file: a member that goes on past a window that does not is `longer` (read it again
 * in a larger window); one that goes on past the end of the file was cut short.
 */
function memberAt(buf: Buffer, last: boolean): Found {
  const h = headerLength(buf);
  if (h === null) return !last && buf.compare(GZIP_MAGIC, 0, 3, 0, 3) === 0 ? { kind: 'longer' } : { kind: 'junk' };
  let out: Buffer;
  let used: number;
  try {
    // A sync flush: input that stops inside the member (the window's end, or a cut) is no error.
    const r = inflateRawSync(buf.subarray(h), { info: true, finishFlush: constants.Z_SYNC_FLUSH }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    out = r.buffer;
    used = r.engine.bytesWritten;
  } catch (err) {
    return { kind: 'bad', what: `a damaged gzip member (${err instanceof Error ? err.message : String(err)}) is skipped` };
  }
  const trailer = h + used;
  if (trailer + 8 > buf.length) return last ? { kind: 'cut', data: out } : { kind: 'longer' };
  if (buf.readUInt32LE(trailer) !== crc32(out) || buf.readUInt32LE(trailer + 4) !== (out.length >>> 0)) {
    return { kind: 'bad', what: 'a gzip member fails its checksum and is skipped' };
  }
  return { kind: 'whole', data: out, length: trailer + 8 };
}

/** A file read forward through a window of its bytes. */
class FileWindow {
  private buf = Buffer.alloc(0);
  private start = 0;

  constructor(private readonly fh: FileHandle, public size: number) {}

  /** The `n` bytes from `pos`, fewer where the file ends first. */
  async at(pos: number, n: number): Promise<Buffer> {
    const end = Math.min(pos + n, this.size);
    if (pos < this.start || end > this.start + this.buf.length) await this.load(pos, Math.max(n, READ_BYTES));
    return this.buf.subarray(pos - this.start, Math.min(end, this.start + this.buf.length) - this.start);
  }

  /** Where the next gzip header's magic starts, at or after `from`; -1 for none. */
  async find(from: number): Promise<number> {
    // Windows overlap by two bytes, so that a magic across their boundary is found.
    for (let p = from; p < this.size; p += READ_BYTES - (GZIP_MAGIC.length - 1)) {
      const b = await this.at(p, READ_BYTES);
      const i = b.indexOf(GZIP_MAGIC);
      if (i >= 0) return p + i;
      if (p + b.length >= this.size) break;
    }
    return -1;
  }

  private async load(pos: number, n: number): Promise<void> {
    const want = Math.max(0, Math.min(n, this.size - pos));
    const next = Buffer.allocUnsafe(want);
    // The bytes the window holds from `pos` on are kept, not read again.
    let have = pos >= this.start && pos < this.start + this.buf.length ? this.buf.copy(next, 0, pos - this.start) : 0;
    while (have < want) {
      const { bytesRead } = await this.fh.read(next, have, want - have, pos + have);
      if (bytesRead === 0) {
        // The file was cut short while we read it: it ends here.
        this.size = pos + have;
        break;
      }
      have += bytesRead;
    }
    this.buf = next.subarray(0, have);
    this.start = pos;
  }
}

/**
 * The gzip members of an open archive file of `size` bytes, each inflated on its own, read a
 * window at a time, so that a damaged one costs only itself: the members before it and after
 * it are read (a member is a batch the writer synced whole). A member that fails its CRC or
 * does not inflate is reported through `problem` and skipped up to the next gzip header. A
 * member cut short at the end of the file (a crash while writing it) gives what it holds so
 * far; its last, unfinished line is dropped by the caller.
 */
export async function* gzipMembers(fh: FileHandle, size: number, problem: (at: number, what: string) => void): AsyncGenerator<Buffer> {
  const file = new FileWindow(fh, size);
  let pos = 0;
  let window = READ_BYTES;
  while (pos < file.size) {
    const buf = await file.at(pos, window);
    const found = memberAt(buf, pos + buf.length >= file.size);
    if (found.kind === 'longer' && window < MAX_MEMBER_BYTES) {
      window *= 2;
      continue;
    }
    window = READ_BYTES;
    if (found.kind === 'whole') {
      yield found.data;
      pos += found.length;
      continue;
    }
    if (found.kind === 'cut') {
      problem(pos, 'the last gzip member is cut short (a crash while it was written); the complete lines before the cut are read');
      yield found.data;
      return;
    }
    const next = await file.find(pos + 1);
    if (found.kind === 'junk') {
      problem(pos, next < 0 ? `${file.size - pos} bytes at the end are not a gzip member` : `${next - pos} bytes are not a gzip member`);
    } else {
      const what = found.kind === 'bad' ? found.what : `a gzip member longer than ${MAX_MEMBER_BYTES} bytes is skipped`;
      problem(pos, `${what}${next < 0 ? '' : ` up to byte ${next}`}`);
    }
    if (next < 0) return;
    pos = next;
  }
}
