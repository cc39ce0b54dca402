import type { Command } from 'commander';
import { archiveSource } from '../archive-source.js';
import { contextOf, type Ctx } from '../context.js';
import { usageError } from '../errors.js';
import { shown, type Io } from '../io.js';
import { wrap } from '../render/wrap.js';
import { examples, shellWord } from '../options.js';
import { describeText } from '../views/instances.js';
import { operatorActs } from '../views/operator-acts.js';
import { explain } from '../why.js';

const dbOption = ['--db <file|url>', 'read this database instead of the server: a SQLite file or a postgres:// URL (read-only, safe while sagad runs)'] as const;
const archiveOption = ['--archive <dir>', 'read an instance that retention archived, from this archive directory (offline)'] as const;

/** Where to read: the archive, a database, or the server. */
export function sourceOf(ctx: Ctx, o: { db?: string; archive?: string }) {
  if (o.db !== undefined && o.archive !== undefined) throw usageError('--db and --archive are two places to read from: give one', 'an archived instance is no longer in the database');
  return o.archive === undefined ? ctx.source(o.db) : archiveSource(o.archive, (p) => ctx.io.err(`warning: ${shown(p)}\n`));
}

/** `describe ID`: the instance and its steps; `why ID`: what it waits for, in one paragraph. */
export function registerDescribe(parent: Command, io: Io): void {
  parent
    .command('describe')
    .alias('get')
    .description('Show one instance: its fields, a table of its steps with their compensations, its pending timers, and who cancelled or retried it (token name and reason).')
    .argument('<id>', 'instance id')
    .option(...dbOption)
    .option(...archiveOption)
    .addHelpText('after', examples(
      'sagactl describe 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f',
      'sagactl describe 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f --archive data/archive   # one that retention archived',
      'sagactl describe 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f -o json   # the API\'s instance document',
      'sagactl describe 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f --db data/sagad.db',
      '# ATTEMPTS is n/N with N from the definition (∞: retried until it succeeds); times are offsets from the start.',
    ))
    .action(async (id: string, o: { db?: string; archive?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const source = sourceOf(ctx, o);
      try {
        const doc = await source.instance(id);
        if (ctx.output !== 'table') return ctx.doc(doc);
        const [def, history] = await Promise.all([source.definition(doc.saga, doc.definitionHash), source.history(id)]);
        ctx.out(describeText(doc, def, { now: ctx.now(), width: ctx.width, style: ctx.style }, operatorActs(history)));
      } finally {
        source.close();
      }
    });

  parent
    .command('why')
    .description('Say in one paragraph what an instance is waiting for, since when, what comes next, and what you can do.')
    .argument('<id>', 'instance id')
    .option(...dbOption)
    .option(...archiveOption)
    .addHelpText('after', examples(
      'sagactl why 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f',
      'sagactl why 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f -o json   # the facts: step, attempt, next timer, actions',
      'sagactl why 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f --db data/sagad.db',
    ))
    .action(async (id: string, o: { db?: string; archive?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const source = sourceOf(ctx, o);
      try {
        const instance = await source.instance(id);
        const [definition, history] = await Promise.all([source.definition(instance.saga, instance.definitionHash), source.history(id)]);
        // An archived instance is not on the server: the commands it suggests read the archive too.
        const from = o.archive === undefined ? undefined : ` --archive ${shellWord(o.archive)}`;
        const answer = explain({ instance, definition, history, now: ctx.now(), from });
        if (ctx.output !== 'table') return ctx.doc(answer);
        // The paragraph quotes errors, reasons and keys: data, escaped before it is wrapped.
        ctx.out(`${wrap(shown(answer.text), ctx.width)}\n`);
      } finally {
        source.close();
      }
    });
}
