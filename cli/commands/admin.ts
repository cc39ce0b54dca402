/** `admin backup FILE`: a consistent copy of the SQLite store, taken while sagad runs. */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { SagaError } from '../../engine/errors.js';
import { backupSqlite } from '../../engine/store/backup.js';
import { isPostgresUrl, redact } from '../../engine/store/open.js';
import { contextOf } from '../context.js';
import { CliError, usageError } from '../errors.js';
import type { Io } from '../io.js';
import { examples } from '../options.js';

/** The sentence sagactl refuses a PostgreSQL backup with (docs/operations.md says the same). */
export const PG_DUMP_SENTENCE = 'sagactl admin backup copies a SQLite store; for PostgreSQL use pg_dump, which takes a consistent snapshot while sagad runs: pg_dump --format=custom --file=sagad.dump "$SAGA_DB"';

/** Registers the `admin` group. */
export function registerAdmin(parent: Command, io: Io): void {
  const admin = parent
    .command('admin')
    .description('Administration of the store: backups, and rebuilding instance rows from the journal.')
    .addHelpText('after', examples('sagactl admin backup /backups/sagad-2026-11-27.db', 'sagactl admin rebuild --all'));

  admin
    .command('backup')
    .description('Copy the SQLite store into a new file, consistently, while sagad runs (VACUUM INTO on a read-only connection: one snapshot, writes go on).')
    .argument('<file>', 'the new file to write; it must not exist')
    .option('--db <file>', 'the SQLite database to copy (env SAGA_DB; default ./data/sagad.db)')
    .addHelpText('after', `${examples(
      'sagactl admin backup /backups/sagad.db',
      'sagactl admin backup /backups/sagad-$(date +%F).db --db /var/lib/sagad/sagad.db',
      '# restore: stop sagad, copy the backup to SAGA_DB (remove the old -wal and -shm files), start sagad',
    )}
The copy is synced to disk and checked (quick_check) before the command returns. Instances
that changed after the backup come back as they were then; see docs/operations.md for what a
restore brings back and what it does not. For PostgreSQL use pg_dump.
`)
    .action(async (file: string, o: { db?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const env = io.env ?? {};
      const db = o.db ?? (env.SAGA_DB === undefined || env.SAGA_DB === '' ? './data/sagad.db' : env.SAGA_DB);
      if (isPostgresUrl(db)) throw usageError(PG_DUMP_SENTENCE, `the database is ${redact(db)}`);
      if (existsSync(file)) throw usageError(`${file} exists already; a backup never overwrites a file`, 'give a new file name, for instance with the date in it');
      let r;
      try {
        r = backupSqlite(db, file);
      } catch (err) {
        const code = err instanceof SagaError ? err.code : undefined;
        if (code === 'SAGA_ERR_NOT_FOUND') throw new CliError(`the database ${db} does not exist`, 'give the SQLite file of the server with --db (its SAGA_DB, default ./data/sagad.db)');
        if ((err as { code?: unknown }).code === 'EEXIST') throw new CliError(`${file} was created while the backup ran; the backup was not written there`, 'give a new file name');
        throw new CliError(`cannot back up ${db} to ${file} (${err instanceof Error ? err.message : String(err)}); nothing was left at ${file}`,
          code === 'SAGA_ERR_SCHEMA_VERSION' ? 'back up a sagad database with a sagactl at least as new as the sagad that wrote it'
            : `is it a sagad database, and is there room for the copy in ${dirname(resolve(file))}?`);
      }
      if (ctx.output !== 'table') return ctx.doc(r);
      ctx.out(`Backed up ${db} to ${r.file}: ${r.instances} instances, ${(r.bytes / 1_048_576).toFixed(1)} MB, schema version ${r.schemaVersion}, in ${(r.ms / 1000).toFixed(1)} s.\n`);
    });
}
