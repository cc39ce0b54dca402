/**
 * The archive as a place the inspecting commands read from (`--archive DIR`): the instances
 * retention archived, read from the gzip NDJSON files without sagad or the database.
 */
import { statSync, type Stats } from 'node:fs';
import { historyEntry, instanceDocument, isoTime, type InstanceSummaryDocument } from '../engine/api/documents.js';
import { definitionDetail } from '../engine/api/documents.js';
import type { ArchivedDefinition } from '../engine/archive/format.js';
import { findArchived, listArchived, type Found } from '../engine/archive/reader.js';
import type { CompiledSaga } from '../engine/core/index.js';
import { compileSagaSource } from '../engine/definitions/index.js';
import { CliError } from './errors.js';
import type { Source } from './source.js';

/** The archive directory sagactl reads: `--archive`/`--dir`, else SAGA_ARCHIVE_DIR, else ./data/archive (beside the default database). */
export function archiveDir(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env.SAGA_ARCHIVE_DIR;
  return flag ?? (fromEnv === undefined || fromEnv === '' ? 'data/archive' : fromEnv);
}

/** Throws a sentence unless `dir` is a directory sagactl can look into. */
export function mustExist(dir: string): void {
  const hint = 'give the SAGA_ARCHIVE_DIR of the server (default: archive/ beside its SQLite file) with --archive/--dir';
  let stat: Stats;
  try {
    stat = statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: a file on the way (`--dir /etc/passwd/archive`).
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new CliError(`the archive directory ${dir} does not exist`, hint);
    throw new CliError(`cannot read the archive directory ${dir} (${code ?? (err as Error).message})`, hint);
  }
  if (!stat.isDirectory()) {
    throw new CliError(`${dir} is ${stat.isFile() ? 'a file' : 'not a directory'}; the archive is a directory of sagad-archive-*.ndjson.gz files`, hint);
  }
}

/**
 * Reads an archive directory; instances archived twice are read once, at their latest version.
 * `warn` hears of damaged files and of ids that several archived instances had.
 */
export function archiveSource(dir: string, warn: (problem: string) => void = () => undefined): Source {
  mustExist(dir);
  const where = `archive ${dir}`;
  const found = new Map<string, Found>();
  const definitions = new Map<string, ArchivedDefinition>();
  const compiled = new Map<string, CompiledSaga | undefined>();
  const find = async (id: string): Promise<Found> => {
    let f = found.get(id);
    if (f === undefined) {
      f = await findArchived(dir, id, warn);
      if (f === undefined) throw new CliError(`no instance ${id} in ${where}`, `\`sagactl archive list --dir ${dir}\` shows the archived instances; a live one is read without --archive`);
      if (f.others > 0) {
        warn(`${f.others} other archived instance${f.others === 1 ? '' : 's'} had the id ${id} (started after the earlier was retired); this is the one created last, ${isoTime(f.record.instance.createdAt)}; \`sagactl archive list --dir ${dir}\` lists them all`);
      }
      found.set(id, f);
      for (const [hash, d] of f.definitions) definitions.set(hash, d);
    }
    return f;
  };
  const defOf = (hash: string): CompiledSaga | undefined => {
    if (!compiled.has(hash)) {
      const source = definitions.get(hash)?.source;
      const r = source === undefined ? undefined : compileSagaSource(source);
      compiled.set(hash, r?.ok === true ? r.saga : undefined);
    }
    return compiled.get(hash);
  };
  return {
    where, offline: true,
    async list(q) {
      const { items } = await listArchived(dir, { saga: q.saga, status: q.state, key: q.key, since: q.since, until: q.until }, q.limit, warn);
      return {
        items: items.filter((s) => q.correlationId === undefined || s.correlationId === q.correlationId).map((s): InstanceSummaryDocument => ({
          id: s.id, saga: s.saga, key: s.key, correlationId: s.correlationId, state: s.status, definitionHash: s.definitionHash,
          createdAt: isoTime(s.createdAt), updatedAt: isoTime(s.updatedAt),
        })),
        nextCursor: null,
      };
    },
    async instance(id) {
      const { record } = await find(id);
      return instanceDocument(record.instance, defOf(record.instance.definitionHash), record.timers);
    },
    history: async (id) => (await find(id)).record.journal.map(historyEntry),
    async definition(saga, hash) {
      const def = defOf(hash);
      return def === undefined || def.name !== saga ? undefined : definitionDetail(def);
    },
    stats: () => Promise.reject(new CliError(`${where} has no statistics`, 'read `sagactl stats` from the server or --db')),
    durations: () => Promise.reject(new CliError(`${where} has no saga times`, 'read `sagactl stats --times` from the server or --db')),
    close: () => undefined,
  };
}
