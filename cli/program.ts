import { Command, CommanderError } from 'commander';
import { registerValidate } from './commands/validate.js';

/** Exit codes of every sagactl command. */
export const ExitCode = { ok: 0, error: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Where a command writes; tests pass their own to capture output. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Builds the sagactl program; each command sets `exitCode` through the returned holder. */
export function buildProgram(io: Io): { program: Command; result: { code: ExitCode } } {
  const result = { code: ExitCode.ok as ExitCode };
  const program = new Command('sagactl')
    .description('Inspect and steer sagad, the saga orchestration engine.')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  registerValidate(program, io, result);
  const defs = program.command('defs').description('Saga definitions: validate them.');
  registerValidate(defs, io, result);
  return { program, result };
}

/** Runs sagactl with the given arguments (without node and script) and returns the exit code. */
export async function runCli(argv: string[], io: Io = processIo): Promise<ExitCode> {
  const { program, result } = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return ExitCode.ok;
      return ExitCode.usage;
    }
    io.err(`sagactl: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.error;
  }
}
