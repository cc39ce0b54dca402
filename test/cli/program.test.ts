import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import t from 'tap';
import { parseInput } from '../../cli/commands/act.js';
import { bashCompletion, commandTree, zshCompletion } from '../../cli/completion.js';
import { CliError, formatFailure } from '../../cli/errors.js';
import { buildProgram } from '../../cli/program.js';
import { renderTable, truncate } from '../../cli/render/table.js';
import { age, duration, dslDuration, offset, relative } from '../../cli/render/time.js';
import { wrap } from '../../cli/render/wrap.js';
import { makeStyle, plain, wantsColour } from '../../cli/render/style.js';
import { cli } from './helpers.js';

const silent = { out: () => undefined, err: () => undefined };

function allCommands(cmd: Command, path: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...path, c.name()], ...allCommands(c, [...path, c.name()])]);
}

t.test('--help on every command shows examples and exits 0', async (t) => {
  const { program } = buildProgram(silent);
  const paths = [[], ...allCommands(program)];
  t.ok(paths.length >= 20, `${paths.length} commands`);
  for (const path of paths) {
    const r = await cli([...path, '--help']);
    t.equal(r.code, 0, path.join(' '));
    t.match(r.out, /\nExamples:\n {2}(\$ |# )/, `${path.join(' ') || 'sagactl'} has examples`);
  }
  const root = await cli(['--help']);
  for (const c of ['list', 'describe', 'history', 'why', 'stats', 'start', 'cancel', 'retry', 'dlq', 'defs', 'validate', 'completion']) t.match(root.out, new RegExp(`\\n {2}${c}\\b`));
  t.match(root.out, /--server <url>.*SAGA_SERVER/);
  t.match(root.out, /-o, --output <format>/);
  t.match(root.out, /Exit codes: 0 ok, 1 error, 2 usage error\./);
  t.match((await cli(['list', '--help'])).out, /Global Options:[\s\S]*--token/, 'global options on each command');
});

t.test('usage errors exit 2 and say so; help after them', async (t) => {
  for (const args of [['nope'], ['describe'], ['history', 'a', 'b'], ['list', '--limit', '-1'], ['list', '--output', 'xml'], ['completion', 'fish'], ['defs', 'diff', 'a']]) {
    const r = await cli(args);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.err, /error: .*\n\(run with --help for usage\)/);
  }
  t.equal((await cli([])).code, 2, 'no command: the help, as a usage error');
});

t.test('an option of other commands, given before the command or to one that does not take it, says which take it; an option no command takes does not', async (t) => {
  const r = await cli(['--db', 'data/sagad.db', 'list']);
  t.equal(r.code, 2);
  t.match(r.err, /error: unknown option '--db'\n\(run with --help for usage\)\n--db is taken by list, describe, why, history, stats, admin backup, after the command's name: sagactl list --db \.\.\.\n$/);
  t.match((await cli(['cancel', 'i-1', '--reason', 'r', '--db', 'x'])).err, /--db is taken by list, /, 'given to a command that does not take it');
  const other = await cli(['--frobnicate', 'list']);
  t.equal(other.code, 2);
  t.notMatch(other.err, /is taken by/);
});

t.test('completion: bash and zsh scripts from the command tree', async (t) => {
  const bash = await cli(['completion', 'bash']);
  t.equal(bash.code, 0);
  t.match(bash.out, /complete -F _sagactl sagactl/);
  t.match(bash.out, /" dlq"\) words="list ls show redrive purge delete /);
  t.match(bash.out, /" list"\) words=".*--saga --state --key --correlation-id --since --until --limit --all --cursor --db .*--server .*--output/);
  t.match(bash.out, /--state\) COMPREPLY=\(\$\(compgen -W "running compensating completed compensated failed"/);
  const file = join(t.testdir(), 'sagactl.bash');
  writeFileSync(file, bash.out);
  execFileSync('bash', ['-n', file]);
  // Complete `sagactl dlq re` and `sagactl list --st` in a real bash.
  const complete = (line: string) => execFileSync('bash', ['-c', `source ${file}; COMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _sagactl; echo "\${COMPREPLY[@]}"`]).toString().trim();
  t.equal(complete('sagactl dlq re'), 'redrive');
  t.equal(complete('sagactl list --st'), '--state');
  t.equal(complete('sagactl list --state comp'), 'compensating completed compensated');
  t.equal(complete('sagactl de'), 'describe defs');

  const zsh = await cli(['completion', 'zsh']);
  t.match(zsh.out, /^#compdef sagactl\n/);
  t.match(zsh.out, /" dlq"\) cmds=\('list:List dead letters, newest first\.'/);
  t.match(zsh.out, /compdef _sagactl sagactl\n$/);
  if (existsSync('/usr/bin/zsh') || existsSync('/bin/zsh')) {
    const zfile = join(t.testdir(), '_sagactl');
    writeFileSync(zfile, zsh.out);
    execFileSync('zsh', ['-n', zfile]);
  }
  const { program } = buildProgram(silent);
  t.ok(commandTree(program).some((n) => n.path === 'defs diff' && n.files), 'defs diff completes files');
  t.equal(bashCompletion(program), bash.out);
  t.equal(zshCompletion(program), zsh.out);
});

t.test('--input: JSON inline or @file; bad JSON is a usage error', async (t) => {
  t.strictSame(parseInput('{"a":1}'), { a: 1 });
  t.strictSame(parseInput('@x.json', () => '[1,2]'), [1, 2]);
  t.throws(() => parseInput('{a:1}'), { exitCode: 2, message: /the --input value is not JSON/ });
  t.throws(() => parseInput('@x.json', () => '{'), { exitCode: 2, message: /x\.json is not JSON/ });
  t.throws(() => parseInput('@x.json', () => { throw Object.assign(new Error('nope'), { code: 'EACCES' }); }), { exitCode: 1, message: /cannot read the input file x\.json \(EACCES\)/ });
});

t.test('errors print one sentence and a capitalised hint', async (t) => {
  t.equal(formatFailure(new CliError('no instance x in sagad at http://h', 'run `sagactl list`')), 'sagactl: no instance x in sagad at http://h\nHint: Run `sagactl list`\n');
  t.equal(formatFailure(new CliError('two\n  lines')), 'sagactl: two lines\n');
  t.equal(formatFailure(new CliError('no id', 'sagactl list shows them')), 'sagactl: no id\nHint: sagactl list shows them\n', 'a command to type keeps its case');
});

t.test('tables: columns two apart, right-aligned numbers, shrinking columns cut with …', async (t) => {
  const cols = [{ header: 'NAME' }, { header: 'N', align: 'right' as const }, { header: 'NOTE', shrink: true, min: 6 }];
  const rows = [['alpha', '1', 'a rather long note that will not fit'], ['b', '22', '']];
  t.equal(renderTable(cols, rows), 'NAME    N  NOTE\nalpha   1  a rather long note that will not fit\nb      22  -\n');
  t.equal(renderTable(cols, rows, 20), 'NAME    N  NOTE\nalpha   1  a rather…\nb      22  -\n');
  t.equal(renderTable(cols, rows, 17), 'NAME    N  NOTE\nalpha   1  a rat…\nb      22  -\n', 'the minimum first');
  t.equal(renderTable(cols, rows, 5), 'NAME    N  NOTE\nalpha   1  a r…\nb      22  -\n', 'then down to 4 when the minimum does not fit');
  t.equal(truncate('abcdef', 4), 'abc…');
  t.equal(truncate('abc', 4), 'abc');
  const style = makeStyle(true);
  const painted = renderTable([{ header: 'STATE' }, { header: 'X' }], [[{ text: 'failed', paint: style.state }, 'y']]);
  t.equal(plain(painted), 'STATE   X\nfailed  y\n', 'colour codes take no width');
  t.equal(wantsColour(true, {}), true);
  t.equal(wantsColour(true, { NO_COLOR: '1' }), false);
  t.equal(wantsColour(true, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count');
  t.equal(wantsColour(false, {}), false);
});

t.test('times and durations', async (t) => {
  t.strictSame([0, 350, 1250, 12_340, 61_000, 3_723_000, 90_061_000].map((ms) => duration(ms)), ['0ms', '350ms', '1.25s', '12.3s', '1m01s', '1h02m', '1d01h']);
  t.equal(duration(42_900, true), '42s');
  const now = Date.UTC(2026, 0, 1, 12);
  t.equal(relative(new Date(now - 90_000).toISOString(), now), '1m30s ago');
  t.equal(relative(new Date(now + 2500).toISOString(), now), 'in 2.50s');
  t.equal(relative(new Date(now - 10).toISOString(), now), 'just now');
  t.equal(age(new Date(now - 3_600_000).toISOString(), now), '1h00m');
  t.equal(offset(new Date(now + 1500).toISOString(), new Date(now).toISOString()), '+1.50s');
  t.strictSame([500, 30_000, 600_000, 90_000, 7_200_000, 0].map(dslDuration), ['500ms', '30s', '10m', '1m30s', '2h', '0s']);
});

t.test('wrap: words to the width, a long word whole', async (t) => {
  t.equal(wrap('one two three four five six seven eight nine', 20), 'one two three four\nfive six seven eight\nnine');
  t.equal(wrap('short', Infinity), 'short');
  t.equal(wrap(`${'x'.repeat(30)} y`, 20), `${'x'.repeat(30)}\ny`);
});

t.test('validate is still there, top level and under defs', async (t) => {
  const { program } = buildProgram(silent);
  t.ok(program.commands.some((c) => c.name() === 'validate'));
  t.ok(program.commands.find((c) => c.name() === 'defs')?.commands.some((c) => c.name() === 'validate'));
});
