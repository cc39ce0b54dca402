import { join } from 'node:path';
import fc from 'fast-check';
import type { Test } from 'tap';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';

/**
 * Shared parts of the fuzz tests (issue 13, item 8): the example sagas over a real SQLite file,
 * a bounded number of cases per property (a few seconds each on a busy machine), and a
 * property runner that reports the counterexample as a failed assertion.
 */
const root = new URL('../..', import.meta.url).pathname;
const loaded = loadDefinitionsFile(join(root, 'saga-definitions.yaml'));
if (!loaded.ok) throw new Error('the example definitions do not load');
export const sagas = loaded.sagas;

/** Cases per property: enough to find the classes of input that crash, few enough for CI. */
export const RUNS = Number(process.env.SAGAD_FUZZ_RUNS ?? 150);

/** An engine over a fresh SQLite file in the test's directory. */
export function engineOf(t: Test, file = 'fuzz.db'): { store: Store; engine: Engine } {
  const store = openStore(join(t.testdir(), file));
  t.teardown(() => store.close());
  return { store, engine: new Engine({ store: sqlitePort(store), registry: new Registry(sagas), log: silentLog }) };
}

/** Runs an async property for {@link RUNS} cases (each bounded by `timeoutMs`): one assertion, with the counterexample when it fails. */
export async function holds<T>(t: Test, name: string, arb: fc.Arbitrary<T>, check: (v: T) => Promise<void> | void, runs = RUNS): Promise<void> {
  const details = await fc.check(fc.asyncProperty(arb, async (v) => { await check(v); }), { numRuns: runs, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: true });
  if (!details.failed) {
    t.pass(`${name} (${details.numRuns} cases)`);
    return;
  }
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  t.fail(name, { counterexample: JSON.stringify(details.counterexample)?.slice(0, 2000), seed: details.seed, path: details.counterexamplePath, error });
}

/** JSON values nested up to `depth` levels, the building block of envelopes and bodies. */
export function jsonValue(depth = 4): fc.Arbitrary<unknown> {
  return fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof({ depthSize: 'small', maxDepth: depth },
      fc.constant(null), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.string({ maxLength: 20 }),
      fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 4 })),
  })).v;
}

/** Strings that probe the edges: control characters, CR/LF, long runs, non-BMP characters, empty. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', ' ', '\r\n', 'a\rb', 'a\nb', '\u0000', '\u2028', 'x'.repeat(201), 'é✓😀', '../..', '{%$input%}', '%0d%0a'),
  fc.integer({ min: 150, max: 400 }).map((n) => 'k'.repeat(n)),
);
