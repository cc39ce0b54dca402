// Loads the TypeScript sources and tests in place of a build: `node --import ./ts-loader.mjs
// test/x.test.ts`. tap starts every test file this way (package.json, "tap"), instead of through
// its ts-node plugin, which cost a test file about a second of CPU before its first line ran
// (loading the TypeScript compiler, then compiling every module the file imports); Stryker's tap
// runner too (stryker.config.mjs). esbuild strips the types file by file, as ts-node's
// transpile-only mode did: types are checked by `npm run typecheck`, never here.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';

// The same file is both the `--import` entry (main thread) and the hooks module (loader thread).
if (isMainThread) register(import.meta.url);

const isPath = (specifier) => specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:');
/** The path of a `file:` URL without its query or fragment (a loader may add either). */
const pathOf = (url) => (url.startsWith('file:') ? new URL(url).pathname : '');

/**
 * Sources import each other as `./x.js` (NodeNext); the file on disk is `./x.ts`. From a
 * TypeScript file the `.ts` sibling is tried first, so that the common case costs no failed
 * resolution; anything else resolves as Node resolves it, and a `.js` it cannot find is tried
 * as `.ts` once more.
 */
export async function resolve(specifier, context, next) {
  if (isPath(specifier) && specifier.endsWith('.js') && pathOf(context.parentURL ?? '').endsWith('.ts')) {
    const ts = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
    if (existsSync(ts)) return next(ts.href, context);
  }
  try {
    return await next(specifier, context);
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && isPath(specifier) && specifier.endsWith('.js')) {
      return next(`${specifier.slice(0, -3)}.ts`, context);
    }
    throw err;
  }
}

// Every test process loads mostly the same sources (and Stryker puts every mutant of a file into
// one instrumented source): their JavaScript is kept by content hash, and esbuild only runs for
// a source not seen before. The options are part of the hash.
const CACHE = join(tmpdir(), 'sagad-ts-esbuild');
// The running Node's own syntax: import attributes (`with { type: 'json' }`) are kept as written.
// What tsconfig.json says of the emitted code: imports kept as written (an import of a value
// that goes unused still runs its module), class fields defined as ES2022 defines them.
const OPTIONS = {
  loader: 'ts', format: 'esm', target: `node${process.versions.node}`, sourcemap: 'inline',
  tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true } },
};
const SALT = JSON.stringify(OPTIONS);

// A file per version of every source ever loaded would pile up: at most once a day (a marker
// file's time), the first process that compiles something removes the files written more
// than a week ago (a few thousand stats, tens of ms, once). A hit rewrites nothing, so a
// source unchanged for a week is compiled once more; a process reading a file being removed
// compiles it too.
const DAY_MS = 24 * 3600 * 1000;
let pruning = false;
async function prune() {
  if (pruning) return;
  pruning = true;
  const marker = join(CACHE, '.pruned');
  const now = Date.now();
  const last = await stat(marker).then((s) => s.mtimeMs, () => 0);
  if (now - last < DAY_MS) return;
  await writeFile(marker, '');
  for (const name of await readdir(CACHE)) {
    if (name === '.pruned') continue;
    const file = join(CACHE, name);
    await stat(file).then((s) => (now - s.mtimeMs > 7 * DAY_MS ? unlink(file) : undefined)).catch(() => {});
  }
}

/** Every `.ts` file is an ES module (package.json says "type": "module"). */
export async function load(url, context, next) {
  if (!pathOf(url).endsWith('.ts')) return next(url, context);
  const path = fileURLToPath(url);
  const source = await readFile(path, 'utf8');
  const cached = join(CACHE, `${createHash('sha256').update(SALT).update('\0').update(path).update('\0').update(source).digest('hex')}.js`);
  let code;
  try {
    code = await readFile(cached, 'utf8');
  } catch {
    const { transform } = await import('esbuild');
    ({ code } = await transform(source, { ...OPTIONS, sourcefile: path }));
    await mkdir(CACHE, { recursive: true });
    // Written aside and renamed: a concurrent test process never reads half a file.
    const aside = `${cached}.${process.pid}`;
    await writeFile(aside, code);
    await rename(aside, cached);
    // Awaited: the loader's thread ends with the process, which may end as soon as this returns.
    await prune().catch(() => {});
  }
  return { format: 'module', source: code, shortCircuit: true };
}
