import type { Command } from 'commander';
import { contextOf } from '../context.js';
import type { Io } from '../io.js';
import { examples } from '../options.js';
import { statsText } from '../views/stats.js';

/** `stats`: instances by saga and state, pending timers, outbox backlog, dead letters, consumer lag. */
export function registerStats(parent: Command, io: Io): void {
  parent
    .command('stats')
    .description('Count instances by saga and state, and show pending timers, outbox backlog, dead letters and consumer lag.')
    .option('--db <file|url>', 'read this database instead of the server: a SQLite file or a postgres:// URL (read-only; consumer lag is then unknown)')
    .addHelpText('after', examples('sagactl stats', 'sagactl stats -o json', 'sagactl stats --db data/sagad.db'))
    .action(async (o: { db?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const source = ctx.source(o.db);
      try {
        const stats = await source.stats();
        if (ctx.output !== 'table') return ctx.doc(stats);
        ctx.out(statsText(stats, ctx.width, ctx.style));
      } finally {
        source.close();
      }
    });
}
