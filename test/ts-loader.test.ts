/**
 * ts-loader.mjs, which loads the TypeScript of every test file: its cache of compiled sources
 * (in `$TMPDIR/sagad-ts-esbuild`) keeps the files written within a week, and is pruned at most
 * once a day. Run in a child process with a TMPDIR of its own.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';

const run = promisify(execFile);
const loader = resolve('ts-loader.mjs');
const DAY = 24 * 3600;

/** Loads a new TypeScript file through the loader, with `tmp` as TMPDIR; returns what it printed. */
async function load(tmp: string, n: number): Promise<string> {
  const file = join(tmp, `source-${n}.ts`);
  writeFileSync(file, `const n: number = ${n};\nconsole.log(\`loaded \${n}\`);\n`);
  const { stdout } = await run(process.execPath, ['--import', loader, file], { env: { ...process.env, TMPDIR: tmp } });
  return stdout.trim();
}

/** A file in the cache, written `daysAgo` days ago. */
function cached(cache: string, name: string, daysAgo: number): string {
  const file = join(cache, name);
  writeFileSync(file, '// compiled');
  const at = Date.now() / 1000 - daysAgo * DAY;
  utimesSync(file, at, at);
  return file;
}

t.test('a compile removes the cached files older than a week, once a day', async (t) => {
  const tmp = t.testdir();
  const cache = join(tmp, 'sagad-ts-esbuild');
  mkdirSync(cache);
  const old = cached(cache, 'old.js', 8);
  const recent = cached(cache, 'recent.js', 6);
  const leftover = cached(cache, 'aside.js.12345', 30);

  t.equal(await load(tmp, 1), 'loaded 1');
  t.notOk(existsSync(old), 'a file written 8 days ago is gone');
  t.notOk(existsSync(leftover), 'a half-written leftover too');
  t.ok(existsSync(recent), 'one of 6 days stays');
  t.equal(readdirSync(cache).filter((f) => f.endsWith('.js') && f !== 'recent.js').length, 1, 'the new source is kept');
  t.ok(Date.now() - statSync(join(cache, '.pruned')).mtimeMs < 60_000, 'the prune is marked');

  const later = cached(cache, 'later.js', 9);
  t.equal(await load(tmp, 2), 'loaded 2');
  t.ok(existsSync(later), 'not pruned again the same day');

  const yesterday = Date.now() / 1000 - DAY - 60;
  utimesSync(join(cache, '.pruned'), yesterday, yesterday);
  t.equal(await load(tmp, 3), 'loaded 3');
  t.notOk(existsSync(later), 'a day later it is');
});
