/**
 * The saga guarantee with forEach steps, property-based: the simulator of the core's property
 * tests (sim.ts, which checks DESIGN section 1 after every input) drives saga `bulk`
 * (fixtures/bulk.yaml: a charge, a forEach over the input's lines, the pivot, a forEach
 * after the pivot) with a random number of lines (0 to 5, where more than 3 must fail the
 * stage), a random maxConcurrency (1 to 4), and random replies, timers, cancels, retries
 * and clock moves; then a drain answers everything with success. Every element is a step of
 * its own to the simulator: compensated once, in reverse order of completion, exactly when
 * its work may have happened. `FC_SEED` and `FC_RUNS` replay or lengthen a run.
 */
import fc from 'fast-check';
import t from 'tap';
import type { CommandStep, CompiledSaga } from '../../engine/core/index.js';
import { note, seen, Sim } from './sim.js';
import { act, action, progress } from './sim-actions.js';
import { saga, type SagaCase } from './sim-sagas.js';

const bulk = saga('bulk.yaml', 'bulk');

/**
 * The same saga with another maxConcurrency on its forEach steps, and one attempt for each
 * element's compensation: a failed undo then fails the instance at once, so the operator's
 * retry of a failed compensation comes up often enough to be checked.
 */
function withConcurrency(def: CompiledSaga, k: number): CompiledSaga {
  const once = (c: CommandStep['compensate']) => (c === null ? null : { ...c, retry: { ...c.retry, maxAttempts: 1 } });
  return { ...def, stages: def.stages.map((s) => (s.kind === 'forEach' ? { ...s, maxConcurrency: k, step: { ...s.step, compensate: once(s.step.compensate) } } : s)) };
}

function bulkCase(lines: number, k: number): SagaCase {
  return {
    def: withConcurrency(bulk, k), pivot: 'ship', wait: null,
    input: () => ({ orderId: 'o1', lines: Array.from({ length: lines }, (_, i) => ({ sku: `s${i}` })) }),
  };
}

const DRAIN_LIMIT = 600;

const scenario = fc.record({
  lines: fc.integer({ min: 0, max: 5 }),
  concurrency: fc.integer({ min: 1, max: 4 }),
  actions: fc.array(action, { maxLength: 60 }),
});

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const numRuns = Number(process.env.FC_RUNS ?? 600);

t.test('bulk: any element count, concurrency and interleaving ends as the saga guarantee allows', async (t) => {
  const details = fc.check(fc.property(scenario, ({ lines, concurrency, actions }) => {
    const sim: Sim = new Sim(bulkCase(lines, concurrency), false, 0.5);
    for (const a of actions) act(sim, a);
    note(`random prefix ended ${sim.state.status}`);
    const s = sim.state;
    const started = Object.keys(s.steps).filter((n) => n.startsWith('reserve[')).length;
    if (lines > 3) sim.check(started === 0, `${lines} lines, more than maxItems 3, yet ${started} elements started`);
    for (let i = 0; i < DRAIN_LIMIT; i++) {
      if (progress(sim)) continue;
      sim.finalChecks();
      note(`drain ended ${sim.state.status}${lines > 3 ? ' (too many lines)' : ''}`);
      const end = sim.state;
      if (end.status === 'completed') {
        sim.check(lines <= 3, `completed with ${lines} lines, more than maxItems 3`);
        sim.check(JSON.stringify(end.steps.reserve?.output) === JSON.stringify(Array.from({ length: lines }, (_, j) => end.steps[`reserve[${j}]`]?.output)),
          '$steps.reserve is not the element results in element order');
      }
      return;
    }
    sim.fail(`the drain did not finish in ${DRAIN_LIMIT} steps (${sim.state.status})`);
  }), { numRuns, ...(seed === undefined ? {} : { seed }) });
  t.notOk(details.failed, `properties 1-7 with forEach elements (${details.numRuns} runs)`, details.failed ? {
    counterexample: JSON.stringify(details.counterexample), seed: details.seed, path: details.counterexamplePath,
    error: details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance),
  } : {});
  for (const [what, n] of [...seen.entries()].sort()) t.comment(`${String(n).padStart(6)} ${what}`);
  // A generator that stops reaching these would make the property pass vacuously.
  const reached = ['drain ended completed', 'drain ended compensated', 'drain ended compensated (too many lines)', 'StepGivenUp', 'ForEachStarted',
    'LateSuccessRecorded (inserted)', 'StepAttemptFailed', 'CompensationFailed', 'CompensationResumed'];
  for (const what of details.failed || numRuns < 500 ? [] : reached) {
    t.ok((seen.get(what) ?? 0) > 0, `the generator reached: ${what}`);
  }
  seen.clear();
});
