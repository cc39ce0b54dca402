import type { Command } from 'commander';
import type { CompiledSaga } from '../../engine/core/index.js';
import { leafSteps } from '../../engine/core/index.js';
import { expressionWarnings } from '../../engine/definitions/expression-warnings.js';
import { formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import { ExitCode, type Io } from '../io.js';

/** `validate FILE...`: loads each definitions file with every load-time check of DESIGN section 2. */
export function registerValidate(parent: Command, io: Io, result: { code: ExitCode }): void {
  parent
    .command('validate')
    .description('Check saga definition files: YAML, schema, expressions, references, pivot and timeout rules.')
    .argument('<file...>', 'definitions files (each checked on its own, with its includes)')
    .addHelpText('after', `
Examples:
  $ sagactl validate saga-definitions.yaml
  $ sagactl validate saga-definitions.yaml sagas/*.yaml

Prints one line per saga when a file is valid; otherwise every error as
FILE:LINE:COLUMN: PATH: what is wrong. what to write instead.
All in one round: a schema error in one part of a saga does not hide the
problems of its other parts (only a file whose YAML does not parse stops early).
Warnings (on stderr, exit code unchanged) name expressions that may run away on
some data: a function that calls itself, a range whose bound comes from data.
Exit code 0 when every file is valid, 1 when any is not.`)
    .action((files: string[]) => {
      let failed = 0;
      for (const file of files) {
        const r = loadDefinitionsFile(file);
        if (!r.ok) {
          failed++;
          for (const e of r.errors) io.err(`${formatDefinitionError(e)}\n`);
          continue;
        }
        if (r.sagas.length === 0) io.out(`${file}: valid, but it defines no sagas\n`);
        for (const saga of r.sagas) {
          io.out(`${file}: ${summarize(saga)}\n`);
          for (const w of expressionWarnings(saga)) io.err(`${file}: warning: ${saga.name}: ${w.where}: {% ${w.source} %}: ${w.message}\n`);
        }
      }
      if (failed > 0) {
        io.err(`${failed} of ${files.length} file${files.length === 1 ? '' : 's'} invalid\n`);
        result.code = ExitCode.error;
      }
    });
}

/** One line describing a compiled saga. */
export function summarize(saga: CompiledSaga): string {
  const leaves = leafSteps(saga);
  const kinds = [
    `${leaves.length} step${leaves.length === 1 ? '' : 's'}`,
    ...(saga.stages.some((s) => s.kind === 'parallel') ? ['parallel'] : []),
    ...(leaves.some((l) => l.kind === 'wait') ? ['wait'] : []),
    ...(leaves.some((l) => l.kind === 'delay') ? ['delay'] : []),
    ...[...new Set(leaves.flatMap((l) => (l.kind === 'saga' ? [l.saga] : [])))].map((child) => `child ${child}`),
    ...(leaves.some((l) => l.kind === 'command' && l.pivot) ? [`pivot ${leaves.find((l) => l.kind === 'command' && l.pivot)?.name}`] : []),
  ];
  const trigger = saga.start.on === null ? 'no trigger' : `starts on ${saga.start.on.subject} ${saga.start.on.type}`;
  const timeout = saga.timeout === null ? 'no deadline' : `deadline ${formatMs(saga.timeout)}`;
  return `ok ${saga.name} (${kinds.join(', ')}; ${trigger}; ${timeout}; hash ${saga.hash.slice(0, 12)})`;
}

function formatMs(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
