import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { usageError } from '../errors.js';
import type { Io } from '../io.js';
import { examples, since } from '../options.js';
import { durationsText } from '../views/durations.js';
import { statsText } from '../views/stats.js';

/** The window of `stats --times` when `--since` is not given, as the API's default. */
const DAY_MS = 24 * 60 * 60 * 1000;

/** `stats`: instances by saga and state, pending timers, outbox backlog, dead letters, consumer lag; `--times`: saga-time percentiles. */
export function registerStats(parent: Command, io: Io): void {
  parent
    .command('stats')
    .description('Count instances by saga and state, and show pending timers, outbox backlog, dead letters and consumer lag.')
    .option('--db <file|url>', 'read this database instead of the server: a SQLite file or a postgres:// URL (read-only; consumer lag is then unknown)')
    .option('--times', 'instead: saga time p50/p99 of the instances that finished (completed or compensated), exact, per saga and state')
    .option('--since <time>', 'with --times: instances started since an ISO time, epoch ms, or how long ago (default 24h)', since)
    .addHelpText('after', examples('sagactl stats', 'sagactl stats -o json', 'sagactl stats --db data/sagad.db', 'sagactl stats --times --since 1h'))
    .action(async (o: { db?: string; times?: boolean; since?: (now: number) => number }, cmd: Command) => {
      if (o.since !== undefined && o.times !== true) {
        throw usageError('--since needs --times: it sets the window of the saga times, while the counts are of every instance now',
          '`sagactl stats --times --since 1h` gives the saga times of the last hour; leave --since out for the counts');
      }
      const ctx = contextOf(cmd, io);
      const source = ctx.source(o.db);
      try {
        if (o.times === true) {
          const times = await source.durations(o.since?.(ctx.now()) ?? ctx.now() - DAY_MS);
          if (ctx.output !== 'table') return ctx.doc(times);
          return ctx.out(durationsText(times, ctx.width, ctx.style));
        }
        const stats = await source.stats();
        if (ctx.output !== 'table') return ctx.doc(stats);
        ctx.out(statsText(stats, ctx.width, ctx.style));
      } finally {
        source.close();
      }
    });
}
