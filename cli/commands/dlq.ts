/** `dlq list|show|redrive|purge`: the dead-letter queue through the API. */
import type { Command } from 'commander';
import type { DeadLetterDocument, DeadLetterSummaryDocument } from '../../engine/api/documents.js';
import type { Page } from '../../engine/store/index.js';
import { ApiCallError } from '../client.js';
import { contextOf, type Ctx } from '../context.js';
import { CliError, usageError } from '../errors.js';
import { shown, type Io } from '../io.js';
import { examples, positiveInt, reason } from '../options.js';
import { collect } from '../paging.js';
import { deadLetterTable, deadLetterText } from '../views/dlq.js';

function letterError(ctx: Ctx, id: string) {
  return (err: unknown): never => {
    if (err instanceof ApiCallError && err.failure.code === 'SAGA_ERR_NOT_FOUND') {
      throw new CliError(`no dead letter ${id} on sagad at ${ctx.api().server}`, '`sagactl dlq list` shows the dead letters and their ids');
    }
    if (err instanceof ApiCallError && err.failure.code === 'SAGA_ERR_ALREADY_REDRIVEN') {
      throw new CliError(`dead letter ${id} was redriven already; a letter is redriven once`,
        `if it failed again it is a new dead letter: \`sagactl dlq list\` shows it; \`sagactl dlq show ${id}\` says when and by whom`);
    }
    throw err;
  };
}

/** Registers the `dlq` group. */
export function registerDlq(parent: Command, io: Io): void {
  const dlq = parent
    .command('dlq')
    .description('Dead letters: messages sagad could not process, kept with the reason.')
    .addHelpText('after', examples('sagactl dlq list', 'sagactl dlq show 12', 'sagactl dlq redrive 12', 'sagactl dlq purge 12'));

  dlq
    .command('list')
    .alias('ls')
    .description('List dead letters, newest first.')
    .option('--limit <n>', 'show at most n letters', positiveInt, 50)
    .option('--all', 'show every letter, following every page')
    .option('--cursor <cursor>', 'continue after the nextCursor a previous list printed')
    .addHelpText('after', examples('sagactl dlq list', 'sagactl dlq list --all -o jsonl'))
    .action(async (o: { limit: number; all?: boolean; cursor?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const api = ctx.api();
      const page = await collect((limit, cursor) => api.get<Page<DeadLetterSummaryDocument>>('/v1/dlq', { limit, cursor }), { limit: o.limit, all: o.all === true, cursor: o.cursor })
        .catch((err: unknown) => {
          if (err instanceof ApiCallError && err.failure.code === 'SAGA_ERR_BAD_CURSOR') throw usageError('the --cursor was not handed out by this list', 'leave --cursor out to start from the newest');
          throw err;
        });
      if (ctx.output === 'json') return ctx.doc(page);
      if (ctx.output === 'jsonl') return page.items.forEach((l) => ctx.doc(l));
      if (page.items.length === 0) return ctx.out(`No dead letters on sagad at ${api.server}.\n`);
      ctx.out(deadLetterTable(page.items, { now: ctx.now(), width: ctx.width, style: ctx.style }));
      if (page.nextCursor !== null) io.err(`Showing the newest ${page.items.length}; there are more: add --all, or continue with --cursor ${page.nextCursor}\n`);
    });

  dlq
    .command('show')
    .description('Show one dead letter: why it is here, its headers and the raw message.')
    .argument('<id>', 'dead letter id')
    .addHelpText('after', examples('sagactl dlq show 12', 'sagactl dlq show 12 -o json | jq -r .data | base64 -d'))
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const letter = await ctx.api().get<DeadLetterDocument>(`/v1/dlq/${encodeURIComponent(id)}`).catch(letterError(ctx, id));
      if (ctx.output !== 'table') return ctx.doc(letter);
      ctx.out(deadLetterText(letter, { now: ctx.now(), width: ctx.width, style: ctx.style }));
    });

  dlq
    .command('redrive')
    .description('Publish a dead letter again, byte for byte, on its subject (after fixing what made it fail).')
    .argument('<id>', 'dead letter id')
    .option('--reason <text>', 'why, recorded with your token\'s name in the log and on the letter', reason)
    .addHelpText('after', `${examples('sagactl dlq redrive 12', 'sagactl dlq redrive 12 --reason "schema fixed"')}A letter is redriven once: a second redrive is refused (if it failed again, it is a new letter).\n`)
    .action(async (id: string, o: { reason?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const body = o.reason === undefined ? undefined : { reason: o.reason };
      const letter = await ctx.api().post<DeadLetterDocument>(`/v1/dlq/${encodeURIComponent(id)}/redrive`, body).catch(letterError(ctx, id));
      if (ctx.output !== 'table') return ctx.doc(letter);
      const what = `dead letter ${shown(letter.id)}: published again on ${shown(letter.subject)}`;
      ctx.out(`Redrove ${what}. If it fails again it comes back as a new dead letter.\n`);
    });

  dlq
    .command('purge')
    .alias('delete')
    .description('Delete a dead letter for good.')
    .argument('<id>', 'dead letter id')
    .option('--reason <text>', 'why, recorded with your token\'s name in sagad\'s log', reason)
    .addHelpText('after', examples('sagactl dlq purge 12', 'sagactl dlq purge 12 --reason "test message"'))
    .action(async (id: string, o: { reason?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const query = o.reason === undefined ? '' : `?reason=${encodeURIComponent(o.reason)}`;
      await ctx.api().delete(`/v1/dlq/${encodeURIComponent(id)}${query}`).catch(letterError(ctx, id));
      if (ctx.output !== 'table') return ctx.doc({ id, purged: true });
      ctx.out(`Purged dead letter ${id}.\n`);
    });
}
