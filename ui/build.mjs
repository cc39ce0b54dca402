// Builds the web console into dist/ui: minified ES modules (preact, the pure cli/why.ts; dagre
// in a chunk of its own that only the definition page loads), the stylesheet and the page.
// Scripts and styles carry a content hash in their names, so the server lets browsers keep
// them for good and only the page is revalidated. No network at build or run time.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'ui');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { app: join(here, 'src', 'main.tsx') },
  outdir: out,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: join(here, 'tsconfig.json'),
  define: { 'process.env.NODE_ENV': '"production"' },
  metafile: true,
  logLevel: 'warning',
});
const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint !== undefined)?.[0];
if (entry === undefined) throw new Error('ui/build.mjs: esbuild wrote no entry');

const css = readFileSync(join(here, 'app.css'));
const cssName = `app-${createHash('sha256').update(css).digest('hex').slice(0, 8).toUpperCase()}.css`;
writeFileSync(join(out, cssName), css);
// The chunks the entry imports load with it: named in the page, they are fetched at once, not after the entry.
const preload = (result.metafile.outputs[entry]?.imports ?? []).filter((i) => i.kind === 'import-statement')
  .map((i) => `<link rel="modulepreload" href="${basename(i.path)}">`).join('\n  ');
const page = readFileSync(join(here, 'index.html'), 'utf8').replace('href="app.css"', `href="${cssName}"`)
  .replace('<script type="module" src="app.js"></script>', `${preload}${preload === '' ? '' : '\n  '}<script type="module" src="${basename(entry)}"></script>`);
if (!page.includes(cssName) || !page.includes(basename(entry))) throw new Error('ui/build.mjs: index.html no longer names app.css and app.js');
writeFileSync(join(out, 'index.html'), page);

const files = readdirSync(out).map((f) => {
  const b = readFileSync(join(out, f));
  return { f, raw: b.length, gzip: gzipSync(b, { level: 9 }).length };
});
const gz = files.reduce((s, x) => s + x.gzip, 0);
if (process.argv.includes('--report')) {
  for (const x of files) console.log(`${x.f}: ${(x.raw / 1024).toFixed(1)} KB, ${(x.gzip / 1024).toFixed(1)} KB gzip`);
  console.log(`console total: ${(gz / 1024).toFixed(1)} KB gzip`);
}
// The goal is a small bundle: fail the build rather than ship one over 300 KB gzip.
if (gz > 300 * 1024) {
  console.error(`ui/build.mjs: the console is ${(gz / 1024).toFixed(1)} KB gzip, over the 300 KB budget`);
  process.exit(1);
}
