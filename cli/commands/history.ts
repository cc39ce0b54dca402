import type { Command } from 'commander';
import type { HistoryEntryDocument } from '../../engine/api/documents.js';
import { contextOf } from '../context.js';
import { sourceOf } from './describe.js';
import type { Io } from '../io.js';
import { durationMs, examples } from '../options.js';
import { historyHeader, historyRow, historyText } from '../views/history.js';

/** States after which nothing happens without an operator: --follow stops there. */
const ended: ReadonlySet<string> = new Set(['completed', 'compensated', 'failed']);

/** `history ID [--follow]`: the journal as a timeline; `--follow` polls until the instance ends. */
export function registerHistory(parent: Command, io: Io): void {
  parent
    .command('history')
    .description('Show the journal of an instance as a timeline, times relative to its start.')
    .argument('<id>', 'instance id')
    .option('-f, --follow', 'keep printing new entries until the instance completes, is compensated or fails')
    .option('--interval <duration>', 'how often --follow polls', durationMs, 1000)
    .option('--db <file|url>', 'read this database instead of the server: a SQLite file or a postgres:// URL (read-only, safe while sagad runs)')
    .option('--archive <dir>', 'read an instance that retention archived, from this archive directory (offline)')
    .addHelpText('after', examples(
      'sagactl history 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f',
      'sagactl history 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f --archive data/archive',
      'sagactl history 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f --follow',
      'sagactl history 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f -o jsonl --follow | jq .type',
      'sagactl history 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f --db data/sagad.db',
    ))
    .action(async (id: string, o: { follow?: boolean; interval: number; db?: string; archive?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const source = sourceOf(ctx, o);
      try {
        if (o.follow !== true) {
          const entries = await source.history(id);
          if (ctx.output === 'json') return ctx.doc({ items: entries });
          if (ctx.output === 'jsonl') return entries.forEach((e) => ctx.doc(e));
          return ctx.out(historyText(entries, ctx.width, ctx.style));
        }
        const all: HistoryEntryDocument[] = [];
        let start: number | undefined;
        if (ctx.output === 'table') ctx.out(historyHeader());
        const sleep = io.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
        for (;;) {
          // The state first: the journal read after it holds every event that led to it.
          const state = (await source.instance(id)).state;
          const entries = await source.history(id);
          start ??= entries[0] === undefined ? undefined : Date.parse(entries[0].at);
          for (const e of entries.filter((x) => x.seq > (all.at(-1)?.seq ?? 0))) {
            all.push(e);
            if (ctx.output === 'table') ctx.out(historyRow(e, start ?? 0, ctx.width, ctx.style));
            else if (ctx.output === 'jsonl') ctx.doc(e);
          }
          if (ended.has(state)) {
            if (ctx.output === 'json') ctx.doc({ items: all });
            if (ctx.output === 'table') io.err(`The instance is ${state}; stopped following.\n`);
            return;
          }
          await sleep(o.interval);
        }
      } finally {
        source.close();
      }
    });
}
