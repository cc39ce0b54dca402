// Builds the web console into dist/ui: one minified ES module bundle (preact, dagre, the
// pure cli/why.ts), its stylesheet and page. No network at build or run time.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'ui');
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(here, 'src', 'main.tsx')],
  outfile: join(out, 'app.js'),
  bundle: true,
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
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
copyFileSync(join(here, 'app.css'), join(out, 'app.css'));

const size = (f) => {
  const b = readFileSync(join(out, f));
  return { raw: b.length, gzip: gzipSync(b, { level: 9 }).length };
};
const files = ['app.js', 'app.css', 'index.html'].map((f) => ({ f, ...size(f) }));
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
