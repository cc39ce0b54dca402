import type { Command } from 'commander';
import type { CompiledSaga } from '../../engine/core/index.js';
import { leafSteps } from '../../engine/core/index.js';
import { expressionWarnings } from '../../engine/definitions/expression-warnings.js';
import { schemaWarnings } from '../../engine/definitions/schema-warnings.js';
import { formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import type { DefinitionError, LoadResult } from '../../engine/definitions/index.js';
import { contextOf } from '../context.js';
import { ExitCode, shown, type Io } from '../io.js';

/** A file's result for `-o json` and `-o jsonl`: its sagas, or its errors, located as the loader locates them. */
export interface ValidatedFile {
  readonly file: string;
  readonly ok: boolean;
  readonly sagas: string[];
  readonly errors: DefinitionError[];
  /** `expression` is null for a warning about a `schemas` key. */
  readonly warnings: { saga: string; where: string; expression: string | null; message: string }[];
}

/** Pure: the document of one file's load result. */
export function validatedFile(file: string, r: LoadResult): ValidatedFile {
  if (!r.ok) return { file, ok: false, sagas: [], errors: r.errors, warnings: [] };
  const warnings = r.sagas.flatMap((saga) => [
    ...expressionWarnings(saga).map((w) => ({ saga: saga.name, where: w.where, expression: w.source as string | null, message: w.message })),
    ...schemaWarnings(saga).map((w) => ({ saga: saga.name, where: w.where, expression: null, message: w.message })),
  ]);
  return { file, ok: true, sagas: r.sagas.map((saga) => saga.name), errors: [], warnings };
}

/** `validate FILE...`: loads each definitions file with every load-time check of DESIGN section 2. */
export function registerValidate(parent: Command, io: Io, result: { code: ExitCode }): void {
  parent
    .command('validate')
    .description('Check saga definition files: YAML, schema, subjects, expressions, references, pivot and timeout rules.')
    .argument('<file...>', 'definitions files (each checked on its own, with its includes)')
    .addHelpText('after', `
Examples:
  $ sagactl validate saga-definitions.yaml
  $ sagactl validate saga-definitions.yaml sagas/*.yaml
  $ sagactl validate sagas/*.yaml -o json | jq '.files[] | select(.ok | not) | .errors[]'

Prints one line per saga when a file is valid; otherwise every error as
FILE:LINE:COLUMN: PATH: what is wrong. what to write instead.
All in one round: a schema error in one part of a saga does not hide the
problems of its other parts (only a file whose YAML does not parse stops early).
Warnings (on stderr, exit code unchanged) name expressions that may run away on
some data (a function that calls itself, a range whose bound comes from data), and
schemas keys whose type no command, reply, wait or trigger of the saga has (a
misspelt key leaves its message unchecked).
With -o json, one document on stdout: {"ok", "files": [{"file", "ok", "sagas"
(their names), "errors": [{"file", "line", "column", "path", "message", "hint"}],
"warnings": [{"saga", "where", "expression" (null for a schemas key), "message"}]}]};
with -o jsonl, one such file object a line. Nothing goes to stderr then.
Exit code 0 when every file is valid, 1 when any is not.`)
    .action((files: string[], _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const documents: ValidatedFile[] = [];
      let failed = 0;
      for (const file of files) {
        const r = loadDefinitionsFile(file, { pipe: true });
        if (!r.ok) failed++;
        if (ctx.output === 'jsonl') ctx.doc(validatedFile(file, r));
        else if (ctx.output === 'json') documents.push(validatedFile(file, r));
        else printFile(io, file, r);
      }
      if (failed > 0) result.code = ExitCode.error;
      if (ctx.output === 'json') ctx.doc({ ok: failed === 0, files: documents });
      if (ctx.output === 'table' && failed > 0) io.err(`${failed} of ${files.length} file${files.length === 1 ? '' : 's'} invalid\n`);
    });
}

/** A file's result for people: a line per saga on stdout, or every error on stderr; warnings on stderr. */
function printFile(io: Io, file: string, r: LoadResult): void {
  if (!r.ok) {
    for (const e of r.errors) io.err(`${shown(formatDefinitionError(e))}\n`);
    return;
  }
  if (r.sagas.length === 0) io.out(`${file}: valid, but it defines no sagas\n`);
  for (const saga of r.sagas) {
    io.out(`${file}: ${summarize(saga)}\n`);
    for (const w of expressionWarnings(saga)) io.err(`${shown(`${file}: warning: ${saga.name}: ${w.where}: {% ${w.source} %}: ${w.message}`)}\n`);
    for (const w of schemaWarnings(saga)) io.err(`${shown(`${file}: warning: ${saga.name}: ${w.where}: ${w.message}`)}\n`);
  }
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
