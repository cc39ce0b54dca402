import type { Command } from 'commander';
import type { InstanceStatus } from '../../engine/core/index.js';
import { contextOf } from '../context.js';
import type { Io } from '../io.js';
import { examples, positiveInt, since, stateOption } from '../options.js';
import { collect } from '../paging.js';
import { instanceListTable } from '../views/instances.js';

interface ListOptions {
  saga?: string;
  state?: InstanceStatus;
  key?: string;
  correlationId?: string;
  since?: (now: number) => number;
  until?: (now: number) => number;
  limit: number;
  all?: boolean;
  cursor?: string;
  db?: string;
}

/** `list`: instances newest first, filtered, paged through `nextCursor`. */
export function registerList(parent: Command, io: Io): void {
  parent
    .command('list')
    .alias('ls')
    .description('List saga instances, newest first.')
    .option('--saga <name>', 'only instances of this saga')
    .addOption(stateOption())
    .option('--key <key>', 'only the instance with this business key')
    .option('--correlation-id <id>', 'only instances with this correlation id')
    .option('--since <time>', 'only instances created since: an ISO time, epoch ms, or how long ago (30m, 2h, 1d)', since)
    .option('--until <time>', 'only instances created until then: an ISO time, epoch ms, or how long ago', since)
    .option('--limit <n>', 'show at most n instances (pages are fetched as needed)', positiveInt, 50)
    .option('--all', 'show every matching instance, following every page')
    .option('--cursor <cursor>', 'continue after the nextCursor a previous list printed')
    .option('--db <file|url>', 'read this database instead of the server: a SQLite file or a postgres:// URL (read-only, safe while sagad runs)')
    .addHelpText('after', examples(
      'sagactl list',
      'sagactl list --saga order-fulfillment --state compensated',
      'sagactl list --state failed --since 2h --all -o jsonl',
      'sagactl list --since 2026-11-27T08:00:00Z --until 2026-11-27T09:00:00Z',
      'sagactl list --key order-001',
      'sagactl list --db data/sagad.db --limit 10',
    ))
    .action(async (o: ListOptions, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const source = ctx.source(o.db);
      try {
        const query = { saga: o.saga, state: o.state, key: o.key, correlationId: o.correlationId, since: o.since?.(ctx.now()), until: o.until?.(ctx.now()) };
        const page = await collect((limit, cursor) => source.list({ ...query, limit, cursor }), { limit: o.limit, all: o.all === true, cursor: o.cursor });
        if (ctx.output === 'json') return ctx.doc(page);
        if (ctx.output === 'jsonl') return page.items.forEach((i) => ctx.doc(i));
        if (page.items.length === 0) return ctx.out(`No instances match in ${source.where}.\n`);
        ctx.out(instanceListTable(page.items, { now: ctx.now(), width: ctx.width, style: ctx.style }));
        if (page.nextCursor !== null) {
          io.err(`Showing the newest ${page.items.length}; there are more: add --all, raise --limit, or continue with --cursor ${page.nextCursor}\n`);
        }
      } finally {
        source.close();
      }
    });
}
