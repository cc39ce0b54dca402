/**
 * Liveness of forEach groups, property-based: with any group (one to three of the steps
 * reserve, pick (whose `when` skips a line without quantity) and tag, in any order), any
 * number of lines within maxItems, any quantities and any maxConcurrency, participants that
 * answer every command with success, in any order, complete the saga. After every input a
 * running instance has a step in flight (or it would wait for ever: the bug of golden 47, an
 * element whose last steps were skipped kept its place and the next never started), and never
 * more elements in flight than maxConcurrency. The other property test fires the saga
 * deadline when nothing else is left, which compensates a stuck instance as the guarantee
 * allows; this one has no timers, so a stuck instance fails it. `FC_SEED` and `FC_RUNS`.
 */
import fc from 'fast-check';
import t from 'tap';
import { decide, isRejection, start, type CommandStep, type CompiledSaga, type Decision, type Effect, type InstanceState } from '../../engine/core/index.js';
import { loadFixture, testEnv } from './harness.js';

const group = loadFixture('group.yaml').group as CompiledSaga;
const pool = (() => {
  const stage = group.stages.find((s) => s.name === 'lines');
  if (stage?.kind !== 'forEach' || stage.steps === undefined) throw new Error('group.yaml: no forEach group lines');
  const [reserve, pick] = stage.steps as [CommandStep, CommandStep];
  return { reserve, pick, tag: { ...reserve, name: 'tag', when: null } } as Record<string, CommandStep>;
})();

function variant(steps: readonly string[], k: number): CompiledSaga {
  const inner = steps.map((n) => pool[n] as CommandStep);
  return {
    ...group,
    stages: group.stages.map((s) => (s.kind === 'forEach' && s.name === 'lines'
      ? { ...s, maxConcurrency: k, steps: inner, step: { ...(inner[0] as CommandStep), name: s.name, when: null } } : s)),
  };
}

type Sent = Extract<Effect, { type: 'SendCommand' }>;
const inFlight = (status: string | undefined) => status === 'running' || status === 'retrying';

const scenario = fc.record({
  steps: fc.shuffledSubarray(['reserve', 'pick', 'tag'], { minLength: 1 }),
  lines: fc.array(fc.constantFrom(0, 1, 2), { maxLength: 3 }),
  concurrency: fc.integer({ min: 1, max: 4 }),
  // Which unanswered command is answered next, as an index into them.
  order: fc.array(fc.nat(20), { maxLength: 40 }),
});

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const numRuns = Number(process.env.FC_RUNS ?? 300);

t.test('group: answering every command with success, in any order, completes the saga', async (t) => {
  const details = fc.check(fc.property(scenario, ({ steps, lines, concurrency, order }) => {
    const def = variant(steps, concurrency);
    const counter = { n: 0 };
    const open: Sent[] = [];
    let now = 0;
    const take = (d: ReturnType<typeof decide>): InstanceState => {
      if (isRejection(d)) throw new Error(`rejected: ${d.rejected.message}`);
      for (const e of (d as Decision).effects) if (e.type === 'SendCommand') open.push(e);
      const s = d.state;
      const names = Object.keys(s.steps).filter((n) => n.startsWith('lines[') || !def.stages.some((x) => x.kind === 'forEach' && x.name === n));
      if (s.status === 'running' && !names.some((n) => inFlight(s.steps[n]?.status))) throw new Error(`running with no step in flight: ${JSON.stringify(Object.fromEntries(Object.entries(s.steps).map(([n, x]) => [n, x.status])))}`);
      const busy = lines.filter((_, i) => steps.some((n) => inFlight(s.steps[`lines[${i}].${n}`]?.status))).length;
      if (busy > concurrency) throw new Error(`${busy} elements in flight, more than maxConcurrency ${concurrency}`);
      return s;
    };
    let state = take(start(def, { id: 'i1', input: { orderId: 'o1', lines: lines.map((qty, i) => ({ sku: `s${i}`, qty })) }, key: null, correlationId: 'c1', event: null, causationId: 'req1' }, testEnv(now, counter)));
    let i = 0;
    while (open.length > 0 && state.status === 'running') {
      const [cmd] = open.splice((order[i++] ?? 0) % open.length, 1) as [Sent];
      const type = cmd.step === 'charge' ? 'PaymentCharged' : cmd.step === 'ship' ? 'Shipped' : cmd.command.eventType === 'PrintLabel' ? 'LabelPrinted'
        : cmd.command.eventType === 'PickLine' ? 'LinePicked' : 'LineReserved';
      now += 10;
      state = take(decide(def, state, { type: 'ReplyReceived', message: { eventId: `r${i}`, eventType: type, correlationId: 'c1', causationId: cmd.command.eventId, aggregateId: 'o1', version: 1, payload: { id: cmd.step } } }, testEnv(now, counter)));
    }
    if (state.status !== 'completed') throw new Error(`ended ${state.status} with no command left to answer`);
  }), { numRuns, ...(seed === undefined ? {} : { seed }) });
  t.notOk(details.failed, `every scenario completed (${details.numRuns} runs)`, details.failed ? {
    counterexample: JSON.stringify(details.counterexample), seed: details.seed,
    error: details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance),
  } : {});
});
