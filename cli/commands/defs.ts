/** `defs list|show|diff` (and `validate`, registered beside them): saga definitions. */
import type { Command } from 'commander';
import type { DefinitionDetail, DefinitionSummary } from '../../engine/api/documents.js';
import { definitionDetail, definitionSummary } from '../../engine/api/documents.js';
import type { CompiledSaga } from '../../engine/core/index.js';
import { formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import { ApiCallError } from '../client.js';
import { contextOf } from '../context.js';
import { CliError, usageError } from '../errors.js';
import { shown, type Io } from '../io.js';
import { diffDefinitions, diffText } from '../defs-diff.js';
import { compileSagaSource } from '../../engine/definitions/index.js';
import type { ReloadDiff } from '../../engine/runtime/reload.js';
import { examples, reason } from '../options.js';
import { definitionListTable, definitionText } from '../views/defs.js';

/** Loads a definitions file or fails with its errors on stderr and one sentence. */
function load(io: Io, file: string): CompiledSaga[] {
  const r = loadDefinitionsFile(file);
  if (r.ok) return r.sagas;
  for (const e of r.errors) io.err(`${shown(formatDefinitionError(e))}\n`);
  throw new CliError(`${file} is not a valid definitions file (${r.errors.length} problem${r.errors.length === 1 ? '' : 's'}, above)`, `fix them first; \`sagactl validate ${file}\` checks it`);
}

/** Registers list, show and diff under `defs`. */
export function registerDefs(defs: Command, io: Io): void {
  defs
    .command('list')
    .alias('ls')
    .description('List the saga definitions the server loaded (or those of a file), with their hashes.')
    .option('-f, --file <file>', 'read a definitions file instead of asking the server')
    .addHelpText('after', examples('sagactl defs list', 'sagactl defs list --file saga-definitions.yaml', 'sagactl defs list -o json'))
    .action(async (o: { file?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const items: DefinitionSummary[] = o.file === undefined
        ? (await ctx.api().get<{ items: DefinitionSummary[] }>('/v1/definitions')).items
        : load(io, o.file).map(definitionSummary);
      if (ctx.output === 'json') return ctx.doc({ items });
      if (ctx.output === 'jsonl') return items.forEach((d) => ctx.doc(d));
      if (items.length === 0) return ctx.out('No sagas are defined.\n');
      ctx.out(definitionListTable(items, { width: ctx.width }));
    });

  defs
    .command('show')
    .description('Show one saga definition: trigger, key, deadline, schemas and each step\'s messages and policies.')
    .argument('<name>', 'saga name')
    .option('--hash <hash>', 'an older version still pinned by running instances, by its hash or the first 8 or more characters of it (the server keeps them; not with --file)')
    .option('-f, --file <file>', 'read a definitions file instead of asking the server')
    .addHelpText('after', examples(
      'sagactl defs show order-fulfillment',
      'sagactl defs show order-fulfillment --hash 3f2a9c1b7e4d   # the version an instance runs (describe and defs list show it)',
      'sagactl defs show order-fulfillment --file saga-definitions.yaml -o json',
    ))
    .action(async (name: string, o: { hash?: string; file?: string }, cmd: Command) => {
      // A file holds one version of each saga; --hash picks among the versions the server keeps.
      if (o.file !== undefined && o.hash !== undefined) {
        throw usageError('--hash picks a version the server keeps, and a file has one version of each saga: give --hash or --file, not both',
          `\`sagactl defs list --file ${o.file}\` shows the hash of the file's version`);
      }
      if (o.hash !== undefined && !/^[0-9a-f]{8,128}$/.test(o.hash)) {
        throw usageError(`--hash ${JSON.stringify(o.hash)} is not a hash: give the hash, or its first 8 or more characters (0-9, a-f)`, '`sagactl defs list` shows the loaded sagas and their hashes');
      }
      const ctx = contextOf(cmd, io);
      let detail: DefinitionDetail;
      if (o.file !== undefined) {
        const sagas = load(io, o.file);
        const saga = sagas.find((s) => s.name === name);
        if (saga === undefined) throw new CliError(`${o.file} defines no saga ${name} (it defines ${sagas.map((s) => s.name).join(', ') || 'none'})`, `\`sagactl defs list --file ${o.file}\` lists them`);
        detail = definitionDetail(saga);
      } else {
        detail = await ctx.api().get<DefinitionDetail>(`/v1/definitions/${encodeURIComponent(name)}`, { hash: o.hash }).catch((err: unknown) => {
          if (err instanceof ApiCallError && err.failure.code === 'SAGA_ERR_UNKNOWN_SAGA') {
            throw new CliError(`sagad at ${ctx.api().server} has ${o.hash === undefined ? `no saga ${name}` : `no definition of ${name} whose hash is or starts with ${o.hash}`}`, '`sagactl defs list` shows the loaded sagas and their hashes');
          }
          // A prefix that fits several versions: the server's sentence lists them.
          if (err instanceof ApiCallError && err.failure.code === 'SAGA_ERR_VALIDATION') throw new CliError(err.failure.message);
          throw err;
        });
      }
      if (ctx.output !== 'table') return ctx.doc(detail);
      ctx.out(definitionText(detail, { width: ctx.width, style: ctx.style }));
    });

  defs
    .command('diff')
    .description('Show what changed from definitions file A to file B, per saga and step; with one file and --server, from the definitions that server runs to the file.')
    .argument('<a>', 'the old definitions file (alone, with --server: the new file)')
    .argument('[b]', 'the new definitions file')
    .addHelpText('after', examples(
      'sagactl defs diff deployed/saga-definitions.yaml saga-definitions.yaml',
      'git show HEAD~1:saga-definitions.yaml > /tmp/old.yaml && sagactl defs diff /tmp/old.yaml saga-definitions.yaml',
      'sagactl defs diff --server http://127.0.0.1:8080 saga-definitions.yaml   # running vs the file: what a reload would change',
      '# Compares the effective values (defaults applied), payload templates and message schemas.',
      '# With one file and --server (or SAGA_SERVER), the old side is what that server runs now.',
    ))
    .action(async (a: string, b: string | undefined, _o: unknown, cmd: Command) => {
      // One file: the old side is what the server runs now, named by --server or SAGA_SERVER (never the default by accident).
      if (b === undefined && cmd.optsWithGlobals<{ server?: string }>().server === undefined && (io.env?.SAGA_SERVER ?? '') === '') {
        cmd.error('error: defs diff needs two files, or one file and --server URL (or SAGA_SERVER) to compare with what the server runs');
      }
      const ctx = contextOf(cmd, io);
      const diffs = b === undefined ? diffDefinitions(await running(ctx.api()), load(io, a)) : diffDefinitions(load(io, a), load(io, b));
      if (ctx.output === 'json') return ctx.doc({ sagas: diffs });
      if (ctx.output === 'jsonl') return diffs.forEach((d) => ctx.doc(d));
      ctx.out(diffText(diffs, ctx.style));
    });

  defs
    .command('reload')
    .description('Make the server reload its definitions file (as SIGHUP does) and print what changed; an invalid file is refused with every error and the running definitions stay.')
    .option('--reason <text>', 'why, recorded with your token\'s name in sagad\'s log', reason)
    .addHelpText('after', examples(
      'sagactl defs reload',
      'sagactl defs reload --reason "payment timeout raised to 30s"',
      'sagactl defs diff --server http://127.0.0.1:8080 saga-definitions.yaml && sagactl defs reload   # look first',
      'sagactl defs reload -o json',
      '# Running instances keep the definition they started with; a removed saga starts no new instance.',
    ))
    .action(async (o: { reason?: string }, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const body = o.reason === undefined ? undefined : { reason: o.reason };
      const diff = await ctx.api().post<ReloadDiff>('/v1/definitions/reload', body).catch((err: unknown) => {
        if (err instanceof ApiCallError && err.failure.code === 'SAGA_ERR_RELOAD_REFUSED') {
          for (const e of err.failure.errors ?? []) io.err(`${shown(e)}\n`);
          throw new CliError(`sagad at ${ctx.api().server} refused the reload: ${err.failure.message}`, 'fix the file the server reads (SAGA_DEFINITIONS); `sagactl validate FILE` checks it');
        }
        throw err;
      });
      if (ctx.output !== 'table') return ctx.doc(diff);
      ctx.out(reloadText(diff));
    });
}

/** The definitions the server runs, compiled again from the sources it stored. */
async function running(api: { get<T>(path: string): Promise<T> }): Promise<CompiledSaga[]> {
  const { items } = await api.get<{ items: { name: string; hash: string; source: string }[] }>('/v1/definition-sources');
  return items.map((i) => {
    const r = compileSagaSource(i.source);
    if (!r.ok) throw new CliError(`the server's definition of ${i.name} (${i.hash.slice(0, 12)}) does not compile here`, 'is sagactl older than the server?');
    return r.saga;
  });
}

/** Pure: a reload's outcome, one line per change. */
export function reloadText(d: ReloadDiff): string {
  const lines: string[] = [];
  for (const s of d.added) lines.push(`added     ${s.name} (${s.hash.slice(0, 12)})`);
  for (const s of d.changed) lines.push(`changed   ${s.name} (${s.oldHash.slice(0, 12)} → ${s.newHash.slice(0, 12)}; running instances keep ${s.oldHash.slice(0, 12)})`);
  for (const s of d.removed) lines.push(`removed   ${s.name} (${s.hash.slice(0, 12)}; starts no new instance, running ones finish)`);
  if (d.unchanged.length > 0) lines.push(`unchanged ${d.unchanged.join(', ')}`);
  if (d.subjects.length > 0) lines.push(`consuming ${d.subjects.join(', ')} (new)`);
  return `${lines.length === 0 ? 'Reloaded: the server had no definitions and the file has none.' : lines.join('\n')}\n`;
}
