/** `admin rebuild [ID | --all]`: rebuild instance rows from the journal through the API, and show what differed. */
import type { Command } from 'commander';
import type { RebuildItem, RebuildPage } from '../../engine/runtime/rebuild.js';
import { ApiCallError } from '../client.js';
import { contextOf, type Ctx } from '../context.js';
import { CliError, usageError } from '../errors.js';
import type { Io } from '../io.js';
import { examples, positiveInt, shellWord } from '../options.js';

/**
 * The `admin` group of operator maintenance commands: found when another command file made it
 * already, else made here, so that each command of the group can live in its own file.
 */
export function adminGroup(program: Command): Command {
  return program.commands.find((c) => c.name() === 'admin') ?? program
    .command('admin')
    .description('Maintenance of the store behind sagad: rebuild instance rows from the journal.')
    .addHelpText('after', examples('sagactl admin rebuild 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f', 'sagactl admin rebuild --all'));
}

const show = (v: unknown): string => {
  const text = typeof v === 'string' ? v : JSON.stringify(v) ?? 'null';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/** Pure: one rebuilt instance and its differences, a line each; or why it could not be rebuilt. */
export function rebuildText(r: RebuildItem): string {
  if ('error' in r) return `${r.id}: not rebuilt, nothing written: ${r.error.code}: ${r.error.message}\n`;
  if (!r.changed) return `${r.id}: row and journal agree; nothing written.\n`;
  const lines = r.differences.map((d) => `  ${d.path}: ${show(d.stored)} -> ${show(d.rebuilt)}\n`);
  return `${r.id}: rewritten from the journal, ${r.differences.length} difference${r.differences.length === 1 ? '' : 's'} (stored -> rebuilt):\n${lines.join('')}`;
}

async function rebuildAll(ctx: Ctx, limit: number): Promise<{ checked: number; changed: number; items: RebuildItem[] }> {
  const out = { checked: 0, changed: 0, items: [] as RebuildItem[] };
  let cursor: string | null = null;
  do {
    const page: RebuildPage = await ctx.api().post<RebuildPage>('/v1/admin/rebuild', { all: true, limit, ...(cursor === null ? {} : { cursor }) });
    out.checked += page.checked;
    out.changed += page.changed;
    out.items.push(...page.items);
    if (ctx.output === 'table') page.items.forEach((r) => ctx.out(rebuildText(r)));
    cursor = page.nextCursor;
  } while (cursor !== null);
  return out;
}

/** Registers `rebuild` under the `admin` group. */
export function registerRebuild(admin: Command, io: Io): void {
  admin
    .command('rebuild')
    .description('Rebuild instance rows (and snapshots) from the journal, the source of truth, and report what differed. Running it again changes nothing.')
    .argument('[id]', 'the instance to rebuild')
    .option('--all', 'rebuild every instance that has a journal (reports only those that differed)')
    .option('--limit <n>', 'instances per request with --all', positiveInt, 200)
    .addHelpText('after', `${examples(
      'sagactl admin rebuild 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f',
      'sagactl admin rebuild --all',
      'sagactl admin rebuild --all -o json | jq .changed',
    )}
Each difference is printed as PATH: STORED -> REBUILT, where PATH is row.<column>,
state.<field> or snapshot.<field>. Timers, the outbox and the reply index are not
touched. Needs the operator token (SAGA_API_TOKEN), not the read-only one.
Exit code 0 when every named instance was checked (rewritten or not); with --all,
1 when some could not be rebuilt (each is listed with its error, and the others
are still checked).`)
    .action(async (id: string | undefined, o: { all?: boolean; limit: number }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      if (id !== undefined && o.all === true) throw usageError(`give an instance ID or --all, not both`, `sagactl admin rebuild ${shellWord(id)}, or sagactl admin rebuild --all`);
      if (id === undefined && o.all !== true) throw usageError('name one instance, or pass --all', 'sagactl admin rebuild ID, or sagactl admin rebuild --all');
      if (o.all === true) {
        const all = await rebuildAll(ctx, o.limit);
        const failed = all.items.filter((r) => 'error' in r).length;
        if (ctx.output !== 'table') ctx.doc(all);
        else ctx.out(`Checked ${all.checked} instance${all.checked === 1 ? '' : 's'}; rewrote ${all.changed}${failed === 0 ? '' : `; ${failed} could not be rebuilt`}.\n`);
        if (failed > 0) {
          throw new CliError(`${failed} instance${failed === 1 ? '' : 's'} could not be rebuilt (listed ${ctx.output === 'table' ? 'above' : 'in items, with an error'}); the others were checked`,
            '`sagactl admin rebuild ID` tries one again; SAGA_ERR_UNREADABLE_EVENT means its journal has an event this build of sagad cannot read');
        }
        return;
      }
      const page = await ctx.api().post<RebuildPage>('/v1/admin/rebuild', { id }).catch((err: unknown) => {
        if (err instanceof ApiCallError && err.failure.code === 'SAGA_ERR_NOT_FOUND') {
          throw new CliError(`instance ${String(id)} has no journal on sagad at ${ctx.api().server}`, '`sagactl list` shows the instances and their ids');
        }
        throw err;
      });
      const [report] = page.items;
      if (ctx.output !== 'table') return ctx.doc(report);
      if (report !== undefined) ctx.out(rebuildText(report));
    });
}
