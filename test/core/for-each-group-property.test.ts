/**
 * The saga guarantee with forEach groups, property-based: the simulator of the core's property
 * tests (sim.ts, which checks DESIGN section 1 after every input) drives saga `group`
 * (fixtures/group.yaml: a charge, a forEach group over the input's lines, the pivot, a group
 * after the pivot) with a random group (one to three of the steps reserve, pick (with a
 * `when` per element) and tag, in random order), a random number of lines (0 to 5, where more
 * than 3 must fail the stage), a random maxConcurrency (1 to 4), random quantities, and random
 * replies, timers, cancels, retries and clock moves; then a drain answers everything with
 * success. Every element's step is a step of its own to the simulator: compensated once, in
 * reverse order of completion across elements, exactly when its work may have happened.
 * `FC_SEED` and `FC_RUNS` replay or lengthen a run.
 */
import fc from 'fast-check';
import t from 'tap';
import type { CommandStep, CompiledSaga } from '../../engine/core/index.js';
import { note, seen, Sim } from './sim.js';
import { act, action, progress } from './sim-actions.js';
import { saga, type SagaCase } from './sim-sagas.js';

const group = saga('group.yaml', 'group');
const pool = (() => {
  const stage = group.stages.find((s) => s.name === 'lines');
  if (stage?.kind !== 'forEach' || stage.steps === undefined) throw new Error('group.yaml: no forEach group lines');
  const [reserve, pick] = stage.steps as [CommandStep, CommandStep];
  return { reserve, pick, tag: { ...reserve, name: 'tag', when: null } } as Record<string, CommandStep>;
})();

/** The saga with the group's steps chosen and ordered, its concurrency, and one attempt per compensation (so a failed undo fails the instance). */
function variant(steps: readonly string[], k: number): CompiledSaga {
  const once = (c: CommandStep['compensate']) => (c === null ? null : { ...c, retry: { ...c.retry, maxAttempts: 1 } });
  const inner = steps.map((n) => ({ ...(pool[n] as CommandStep), compensate: once((pool[n] as CommandStep).compensate) }));
  return {
    ...group,
    stages: group.stages.map((s) => (s.kind === 'forEach' && s.name === 'lines'
      ? { ...s, maxConcurrency: k, steps: inner, step: { ...(inner[0] as CommandStep), name: s.name, when: null } } : s)),
  };
}

function groupCase(steps: readonly string[], lines: readonly number[], k: number): SagaCase {
  return {
    def: variant(steps, k), pivot: 'ship', wait: null,
    input: () => ({ orderId: 'o1', lines: lines.map((qty, i) => ({ sku: `s${i}`, qty })) }),
  };
}

const DRAIN_LIMIT = 800;

const scenario = fc.record({
  steps: fc.shuffledSubarray(['reserve', 'pick', 'tag'], { minLength: 1 }),
  lines: fc.array(fc.constantFrom(0, 1, 2), { maxLength: 5 }),
  concurrency: fc.integer({ min: 1, max: 4 }),
  actions: fc.array(action, { maxLength: 60 }),
});

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const numRuns = Number(process.env.FC_RUNS ?? 400);

t.test('group: any group, element count, concurrency and interleaving ends as the saga guarantee allows', async (t) => {
  const details = fc.check(fc.property(scenario, ({ steps, lines, concurrency, actions }) => {
    const sim: Sim = new Sim(groupCase(steps, lines, concurrency), false, 0.5);
    for (const a of actions) act(sim, a);
    note(`random prefix ended ${sim.state.status}`);
    const started = Object.keys(sim.state.steps).filter((n) => n.startsWith('lines[')).length;
    if (lines.length > 3) sim.check(started === 0, `${lines.length} lines, more than maxItems 3, yet ${started} element steps started`);
    const inFlight = lines.filter((_, i) => steps.some((n) => ['running', 'retrying'].includes(sim.state.steps[`lines[${i}].${n}`]?.status ?? ''))).length;
    sim.check(inFlight <= concurrency, `${inFlight} elements in flight, more than maxConcurrency ${concurrency}`);
    // Within an element the steps run in order: a step has started only once the one before it settled.
    for (const [i] of lines.entries()) {
      for (const [k, name] of steps.entries()) {
        const st = sim.state.steps[`lines[${i}].${name}`];
        const prev = k === 0 ? undefined : sim.state.steps[`lines[${i}].${steps[k - 1] ?? ''}`];
        if (st !== undefined && k > 0) sim.check(prev?.finishedAt !== null && prev?.finishedAt !== undefined, `lines[${i}].${name} started before lines[${i}].${steps[k - 1] ?? ''} settled`);
      }
    }
    for (let i = 0; i < DRAIN_LIMIT; i++) {
      if (progress(sim)) continue;
      sim.finalChecks();
      note(`drain ended ${sim.state.status}${lines.length > 3 ? ' (too many lines)' : ''}`);
      const end = sim.state;
      if (end.status === 'completed') {
        sim.check(lines.length <= 3, `completed with ${lines.length} lines, more than maxItems 3`);
        const want = lines.map((_, j) => Object.fromEntries(steps.flatMap((n) => {
          const st = end.steps[`lines[${j}].${n}`];
          return st?.status === 'succeeded' ? [[n, st.output]] : [];
        })));
        sim.check(JSON.stringify(end.steps.lines?.output) === JSON.stringify(want), '$steps.lines is not one object per element, in element order');
        sim.check(lines.every((qty, j) => !steps.includes('pick') || (end.steps[`lines[${j}].pick`]?.status === 'skipped') === (qty === 0)), 'a pick ran for a line of quantity 0, or was skipped for another');
      }
      return;
    }
    sim.fail(`the drain did not finish in ${DRAIN_LIMIT} steps (${sim.state.status})`);
  }), { numRuns, ...(seed === undefined ? {} : { seed }) });
  t.notOk(details.failed, `properties 1-7 with forEach groups (${details.numRuns} runs)`, details.failed ? {
    counterexample: JSON.stringify(details.counterexample), seed: details.seed, path: details.counterexamplePath,
    error: details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance),
  } : {});
  for (const [what, n] of [...seen.entries()].sort()) t.comment(`${String(n).padStart(6)} ${what}`);
  // A generator that stops reaching these would make the property pass vacuously.
  const reached = ['drain ended completed', 'drain ended compensated', 'drain ended compensated (too many lines)', 'StepGivenUp', 'ForEachStarted',
    'StepSkipped', 'LateSuccessRecorded (inserted)', 'StepAttemptFailed', 'CompensationFailed', 'CompensationResumed'];
  for (const what of details.failed || numRuns < 300 ? [] : reached) {
    t.ok((seen.get(what) ?? 0) > 0, `the generator reached: ${what}`);
  }
  seen.clear();
});
