import { ESLint } from 'eslint';
import t from 'tap';

/** The lint rule that keeps engine/core pure must catch I/O, clocks and randomness. */
const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });

async function problems(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

t.test('I/O imports, Date and Math.random are refused in engine/core', async (t) => {
  const cases = [
    "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n",
    "import Database from 'better-sqlite3';\nexport const d = Database;\n",
    "import { connect } from '@nats-io/transport-node';\nexport const c = connect;\n",
    "import Fastify from 'fastify';\nexport const f = Fastify;\n",
    'export const now = Date.now();\n',
    'export const r = Math.random();\n',
  ];
  for (const code of cases) t.not((await problems(code, 'engine/core/probe.ts')).length, 0, code.split('\n')[0] ?? '');
});

t.test('the same code is allowed outside engine/core', async (t) => {
  t.same(await problems('export const now = Date.now();\n', 'engine/runtime/probe.ts'), []);
});
