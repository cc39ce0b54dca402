// Loads the TypeScript sources for Stryker's tap runner, which starts each test file with plain
// `node` rather than through tap (whose ts-node plugin costs about a second per file). esbuild
// strips the types file by file, so a mutant run spends its time in the tests.
// Used as `node --import ./stryker.ts-loader.mjs test/x.test.ts` (stryker.config.mjs).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';

// The same file is both the `--import` entry (main thread) and the hooks module (loader thread).
if (isMainThread) register(import.meta.url);

const isPath = (specifier) => specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:');

/** Sources import each other as `./x.js` (NodeNext); the file on disk is `./x.ts`. */
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && isPath(specifier) && specifier.endsWith('.js')) {
      return next(`${specifier.slice(0, -3)}.ts`, context);
    }
    throw err;
  }
}

// Stryker puts every mutant of a file into one instrumented source and picks the active one by
// an environment variable, so each test process loads the same sources: their JavaScript is
// kept by content hash and esbuild only runs for a source not seen before.
const CACHE = join(tmpdir(), 'sagad-stryker-esbuild');
const OPTIONS = { loader: 'ts', format: 'esm', target: 'node20.19', sourcemap: 'inline' };

/** Every `.ts` file is an ES module (package.json says "type": "module"). */
export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const path = fileURLToPath(url);
  const source = await readFile(path, 'utf8');
  const cached = join(CACHE, `${createHash('sha256').update(path).update('\0').update(source).digest('hex')}.js`);
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
  }
  return { format: 'module', source: code, shortCircuit: true };
}
