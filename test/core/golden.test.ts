import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { loadFixture, runTrace, type TraceInput, type TraceOutput } from './harness.js';

/**
 * Golden traces: a definition, a list of inputs, and the expected events, effects and final
 * state, replayed through the pure core by one table-driven test. `UPDATE_GOLDEN=1` rewrites
 * the expectations (review the diff before committing it).
 */
interface GoldenFile {
  description: string;
  guarantees?: string[];
  definitions: string;
  saga: string;
  trace: (TraceInput & { expect?: TraceOutput })[];
  final?: { status: string; steps: Record<string, string> };
}

const dir = join(import.meta.dirname, 'golden');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
const update = process.env.UPDATE_GOLDEN === '1';

t.ok(files.length >= 10, 'golden traces exist');

for (const file of files) {
  t.test(file, (t) => {
    const golden = parse(readFileSync(join(dir, file), 'utf8')) as GoldenFile;
    const saga = loadFixture(golden.definitions)[golden.saga];
    if (saga === undefined) throw new Error(`${file}: no saga ${golden.saga} in ${golden.definitions}`);
    const inputs = golden.trace.map(({ expect: _e, ...inp }) => inp);
    const r = runTrace(saga, inputs);
    if (update) {
      golden.trace = inputs.map((inp, i) => ({ ...inp, expect: r.outputs[i] as TraceOutput }));
      golden.final = r.final;
      writeFileSync(join(dir, file), stringify(golden, { lineWidth: 0 }));
    }
    for (const [i, inp] of golden.trace.entries()) {
      t.same(r.outputs[i], inp.expect ?? { events: [], effects: [] }, `input ${i} (${inp.do}${inp.step ? ` ${inp.step}` : ''}${inp.type ? ` ${inp.type}` : ''}${inp.timer ? ` ${inp.timer}` : ''})`);
    }
    t.same(r.final, golden.final, 'final state');
    t.same(r.replayed, r.state, 'replaying the journal through evolve rebuilds the state');
    t.end();
  });
}
