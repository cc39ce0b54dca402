import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import t from 'tap';

const root = new URL('../..', import.meta.url).pathname;

/** Every module sagactl loads, following relative imports from cli/main.ts (type-only imports are erased, so skipped). */
function loaded(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1] ?? '');
    seen.set(file, specs);
    for (const s of specs) if (s.startsWith('.')) visit(resolve(dirname(file), s.replace(/\.js$/, '.ts')));
  };
  visit(join(root, entry));
  return seen;
}

t.test('sagactl reads the API documents without loading fastify or the server runtime', async (t) => {
  const modules = loaded('cli/main.ts');
  t.ok(modules.size > 20, `it walked the CLI's imports (${modules.size} modules)`);
  const offenders = [...modules].filter(([, specs]) => specs.some((s) => s === 'fastify' || s.startsWith('@fastify/'))).map(([f]) => f.slice(root.length));
  t.same(offenders, [], 'no module sagactl loads imports fastify');
  const server = [...modules.keys()].map((f) => f.slice(root.length)).filter((f) => f.startsWith('engine/runtime/') || f === 'engine/main.ts' || f === 'engine/api/app.ts');
  t.same(server, [], 'nor the runtime or the API app');
});
