import type { InstanceState } from '../core/index.js';
import type { JournalEntry } from '../store/journal.js';
import type { TimerRow } from '../store/timers.js';

/** The `format` of every archive line this build writes; readers refuse other formats by name. */
export const ARCHIVE_FORMAT = 'sagad-archive/1';

/**
 * One archived instance: its last state document, its whole journal as stored (not upcast)
 * and the timers it still had, enough for `sagactl describe` and `history` without sagad.
 */
export interface ArchivedInstance {
  readonly format: typeof ARCHIVE_FORMAT;
  readonly kind: 'instance';
  /** Epoch ms when the line was written. */
  readonly archivedAt: number;
  readonly instance: InstanceState;
  readonly journal: readonly JournalEntry[];
  readonly timers: readonly TimerRow[];
}

/**
 * The source of a definition that instances in the same file ran, written once per file
 * before the first instance that needs it, so that a file is readable on its own.
 */
export interface ArchivedDefinition {
  readonly format: typeof ARCHIVE_FORMAT;
  readonly kind: 'definition';
  readonly hash: string;
  readonly name: string;
  readonly source: string;
}

/** One line of an archive file. */
export type ArchiveLine = ArchivedInstance | ArchivedDefinition;

/** Pure: the NDJSON line (with its newline) of one archive record. */
export function encodeLine(line: ArchiveLine): string {
  return `${JSON.stringify(line)}\n`;
}

/** Pure: an archive record from one line of text, or a sentence saying why it is not one. */
export function parseLine(text: string): ArchiveLine | { problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  if (typeof v !== 'object' || v === null) return { problem: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  if (o.format !== ARCHIVE_FORMAT) return { problem: `format ${JSON.stringify(o.format)}, not ${ARCHIVE_FORMAT}` };
  if (o.kind === 'definition' && typeof o.hash === 'string' && typeof o.name === 'string' && typeof o.source === 'string') {
    return v as ArchivedDefinition;
  }
  const inst = o.instance as Record<string, unknown> | undefined;
  if (o.kind === 'instance' && typeof inst === 'object' && inst !== null && typeof inst.id === 'string' && typeof inst.version === 'number'
    && Array.isArray(o.journal) && Array.isArray(o.timers) && typeof o.archivedAt === 'number') {
    return v as ArchivedInstance;
  }
  return { problem: `not an archived instance or definition (kind ${JSON.stringify(o.kind)})` };
}

/**
 * Pure: which of two lines of the same instance to keep. A crash between the archive's sync
 * and the delete archives an instance twice; should it have changed in between (a late reply
 * reopening it), the later version wins, and between equals the later write. Two instances
 * may have had the same id (a start with the id of one already retired): the one created
 * later wins here, and {@link sameInstance} keeps them apart where both are listed.
 */
export function newer(a: ArchivedInstance, b: ArchivedInstance): ArchivedInstance {
  if (a.instance.createdAt !== b.instance.createdAt) return a.instance.createdAt > b.instance.createdAt ? a : b;
  if (a.instance.version !== b.instance.version) return a.instance.version > b.instance.version ? a : b;
  return b.archivedAt >= a.archivedAt ? b : a;
}

/** Pure: the key under which the lines of one instance fold: its id and when it was created. */
export function sameInstance(s: { readonly id: string; readonly createdAt: number }): string {
  return `${s.id}\u0000${s.createdAt}`;
}
