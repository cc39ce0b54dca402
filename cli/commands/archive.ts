/** `archive list|show`: the instances retention archived, read offline from the archive files. */
import type { Command } from 'commander';
import type { InstanceStatus } from '../../engine/core/index.js';
import { listArchived } from '../../engine/archive/reader.js';
import { archiveDir, archiveSource, mustExist } from '../archive-source.js';
import { contextOf } from '../context.js';
import { shown, type Io } from '../io.js';
import { examples, positiveInt, since, stateOption } from '../options.js';
import { historyText } from '../views/history.js';
import { describeText, instanceListTable } from '../views/instances.js';
import { isoTime } from '../../engine/api/documents.js';

const dirOption = ['--dir <dir>', 'the archive directory (env SAGA_ARCHIVE_DIR; default data/archive, beside the default database)'] as const;

interface ListOptions {
  dir?: string;
  saga?: string;
  state?: InstanceStatus;
  key?: string;
  since?: (now: number) => number;
  until?: (now: number) => number;
  limit: number;
}

/** Registers the `archive` group. */
export function registerArchive(parent: Command, io: Io): void {
  const archive = parent
    .command('archive')
    .description('Instances retention archived (SAGA_RETENTION): gzip NDJSON files read offline, without sagad or the database.')
    .addHelpText('after', `${examples(
      'sagactl archive list --dir data/archive',
      'sagactl archive list --saga order-fulfillment --state compensated --since 30d',
      'sagactl archive show 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f',
      'sagactl describe 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f --archive data/archive',
      'zcat data/archive/*.ndjson.gz | jq -c \'select(.kind == "instance") | .instance.id\'   # the files are plain gzip NDJSON',
    )}
An instance archived twice (sagad stopped between writing the archive and deleting the rows)
is shown once, at its latest version. docs/operations.md describes the format.
`);

  archive
    .command('list')
    .alias('ls')
    .description('List archived instances, newest created first.')
    .option(...dirOption)
    .option('--saga <name>', 'only instances of this saga')
    .addOption(stateOption())
    .option('--key <key>', 'only the instance with this business key')
    .option('--since <time>', 'only instances created since: an ISO time, epoch ms, or how long ago (30m, 2h, 1d)', since)
    .option('--until <time>', 'only instances created until then', since)
    .option('--limit <n>', 'show at most n instances', positiveInt, 50)
    .addHelpText('after', examples('sagactl archive list', 'sagactl archive list --state compensated --since 7d -o jsonl'))
    .action(async (o: ListOptions, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const dir = archiveDir(o.dir, io.env ?? {});
      mustExist(dir);
      const problems: string[] = [];
      const { items, total } = await listArchived(dir, {
        saga: o.saga, status: o.state, key: o.key, since: o.since?.(ctx.now()), until: o.until?.(ctx.now()),
      }, o.limit, (p) => problems.push(p));
      for (const p of problems) io.err(`warning: ${shown(p)}\n`);
      const docs = items.map((s) => ({
        id: s.id, saga: s.saga, key: s.key, correlationId: s.correlationId, state: s.status, definitionHash: s.definitionHash,
        createdAt: isoTime(s.createdAt), updatedAt: isoTime(s.updatedAt), archivedAt: isoTime(s.archivedAt), file: s.file,
      }));
      if (ctx.output === 'json') return ctx.doc({ items: docs, total });
      if (ctx.output === 'jsonl') return docs.forEach((d) => ctx.doc(d));
      if (docs.length === 0) return ctx.out(`No archived instances match in ${dir}.\n`);
      ctx.out(instanceListTable(docs, { now: ctx.now(), width: ctx.width, style: ctx.style }));
      if (total > docs.length) io.err(`Showing the newest ${docs.length} of ${total}; raise --limit or filter to see others.\n`);
    });

  archive
    .command('show')
    .description('Show one archived instance: its fields, steps, compensations and its whole history.')
    .argument('<id>', 'instance id')
    .option(...dirOption)
    .addHelpText('after', examples(
      'sagactl archive show 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f',
      'sagactl archive show 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f -o json   # {instance, history}: the API\'s documents',
    ))
    .action(async (id: string, o: { dir?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const source = archiveSource(archiveDir(o.dir, io.env ?? {}), (p) => io.err(`warning: ${shown(p)}\n`));
      const doc = await source.instance(id);
      const history = await source.history(id);
      if (ctx.output !== 'table') return ctx.doc({ instance: doc, history });
      const def = await source.definition(doc.saga, doc.definitionHash);
      ctx.out(describeText(doc, def, { now: ctx.now(), width: ctx.width, style: ctx.style }));
      ctx.out(`\nHistory:\n${historyText(history, ctx.width, ctx.style)}`);
    });
}
