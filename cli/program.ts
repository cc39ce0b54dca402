import { Command, CommanderError, Option } from 'commander';
import { registerAct } from './commands/act.js';
import { registerAdmin } from './commands/admin.js';
import { registerArchive } from './commands/archive.js';
import { registerCompletion } from './commands/completion.js';
import { registerDefs } from './commands/defs.js';
import { registerDescribe } from './commands/describe.js';
import { registerDlq } from './commands/dlq.js';
import { registerHistory } from './commands/history.js';
import { registerList } from './commands/list.js';
import { adminGroup, registerRebuild } from './commands/rebuild.js';
import { registerSimulate } from './commands/simulate.js';
import { registerStats } from './commands/stats.js';
import { registerTest } from './commands/test.js';
import { registerValidate } from './commands/validate.js';
import { CliError, formatFailure } from './errors.js';
import { ExitCode, processIo, safeIo, type Io } from './io.js';
import { examples, outputOption } from './options.js';

export { ExitCode, processIo, type Io } from './io.js';

/** Builds the sagactl program; commands that fail without throwing set `code` in the returned holder. */
export function buildProgram(io: Io): { program: Command; result: { code: ExitCode } } {
  const result = { code: ExitCode.ok as ExitCode };
  const program = new Command('sagactl')
    .description('Inspect and steer sagad, the saga orchestration engine: what every saga is doing and why, and act on it.')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .option('-s, --server <url>', 'sagad HTTP API (env SAGA_SERVER; default http://127.0.0.1:8080)')
    .option('--token <token>', 'API bearer token (env SAGA_API_TOKEN)')
    .addOption(outputOption())
    .addOption(new Option('--no-color', 'never colour the output (colour is used only on a terminal, and never with NO_COLOR set)'))
    .addHelpText('after', `${examples(
      'sagactl list --state failed                       # what needs me?',
      'sagactl why 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f   # what is it waiting for, and what can I do',
      'sagactl describe 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f',
      'sagactl history 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f --follow',
      'sagactl cancel 0192f7e0-5a4b-7c3d-9e8f-0a1b2c3d4e5f --reason "customer called"',
      'sagactl --server http://sagad.internal:8080 stats',
      'sagactl list --db data/sagad.db                   # offline, read-only',
      'sagactl test saga-definitions.yaml                 # offline: fail every step, check the saga guarantee',
    )}
Exit codes: 0 ok, 1 error, 2 usage error.
`);

  registerList(program, io);
  registerDescribe(program, io);
  registerHistory(program, io);
  registerStats(program, io);
  registerAct(program, io, result);
  registerDlq(program, io);
  const defs = program
    .command('defs')
    .description('Saga definitions: list, show, validate and diff them.')
    .addHelpText('after', examples('sagactl defs list', 'sagactl defs show order-fulfillment', 'sagactl defs validate saga-definitions.yaml', 'sagactl defs diff old.yaml new.yaml'));
  registerDefs(defs, io);
  registerValidate(defs, io, result);
  registerValidate(program, io, result);
  registerTest(program, io, result);
  registerSimulate(program, io, result);
  registerArchive(program, io);
  registerAdmin(program, io);
  registerRebuild(adminGroup(program), io);
  registerCompletion(program, io, program);
  return { program, result };
}

/** Runs sagactl with the given arguments (without node and script) and returns the exit code. */
export async function runCli(argv: string[], given: Io = processIo): Promise<ExitCode> {
  const io = safeIo(given);
  const { program, result } = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander printed the problem already; a group without its subcommand (`sagactl dlq`) lands here too.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return ExitCode.ok;
      if (err.code === 'commander.unknownOption') {
        const hint = optionElsewhere(program, err.message);
        if (hint !== null) io.err(hint);
      }
      return ExitCode.usage;
    }
    if (err instanceof CliError) {
      io.err(formatFailure(err));
      return err.exitCode;
    }
    // A bug: still one sentence, with where to report it, never a stack trace.
    io.err(formatFailure(new CliError(`unexpected failure: ${err instanceof Error ? err.message : String(err)}`, 'this is a bug in sagactl; please report it with the command you ran')));
    return ExitCode.error;
  }
}

/**
 * For an option given where it is unknown (`sagactl --db x list`, before the command, or to a
 * command that does not take it) that some commands take: which, and where it goes. Null for
 * an option no command knows.
 */
function optionElsewhere(program: Command, message: string): string | null {
  const flag = /unknown option '([^'=]+)/.exec(message)?.[1];
  if (flag === undefined) return null;
  const takers: string[] = [];
  const walk = (c: Command, path: string[]): void => {
    for (const sub of c.commands) {
      const at = [...path, sub.name()];
      if (sub.options.some((o) => o.long === flag || o.short === flag)) takers.push(at.join(' '));
      walk(sub, at);
    }
  };
  walk(program, []);
  if (takers.length === 0) return null;
  const shown = takers.length > 6 ? `${takers.slice(0, 6).join(', ')}, ...` : takers.join(', ');
  return `${flag} is taken by ${shown}, after the command's name: sagactl ${takers[0]} ${flag} ...\n`;
}
