// Loads the TypeScript sources for Stryker's tap runner, which starts each test file with plain
// `node` rather than through tap (whose ts-node plugin costs about a second per file). esbuild
// strips the types file by file, so a mutant run spends its time in the tests.
// Used as `node --import ./stryker.ts-loader.mjs test/x.test.ts` (stryker.config.mjs).
import { readFile } from 'node:fs/promises';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { transform } from 'esbuild';

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

/** Every `.ts` file is an ES module (package.json says "type": "module"). */
export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const path = fileURLToPath(url);
  const { code } = await transform(await readFile(path, 'utf8'), {
    loader: 'ts', format: 'esm', target: 'node20.19', sourcemap: 'inline', sourcefile: path,
  });
  return { format: 'module', source: code, shortCircuit: true };
}
