import fc from 'fast-check';
import t from 'tap';
import {
  evolve, renderTemplate, start, type CompiledSaga, type Effect, type InstanceState, type SagaEvent, type Stage, type Template,
} from '../../engine/core/index.js';
import * as delay from '../../engine/core/delay.js';
import { formatIsoTime, parseIsoTime } from '../../engine/core/iso-time.js';
import { MAX_DURATION_MS } from '../../engine/definitions/duration.js';
import { compileExpr, compileSagaSource, formatDefinitionError, loadDefinitionsText } from '../../engine/definitions/index.js';
import { runTrace, testEnv } from './harness.js';

/**
 * Fixes from a review of the pure core: step names that are also `Object.prototype`
 * properties, a payload key `__proto__`, and the times a delay's `until` may give.
 */

function sagasOf(text: string): Record<string, CompiledSaga> {
  const r = loadDefinitionsText(text, 'review.yaml');
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  return Object.fromEntries(r.sagas.map((s) => [s.name, s]));
}

const startOf = (saga: CompiledSaga, input: unknown, now = 1000) =>
  start(saga, { id: 'i1', input, key: null, correlationId: 'c1', event: null, causationId: 'req1' }, testEnv(now, { n: 0 }));

const sent = (effects: readonly Effect[]) => effects.flatMap((e) => (e.type === 'SendCommand' ? [e] : []));

// 1. A step whose name Object.prototype also has is a step like any other.

const twoSteps = sagasOf(`
sagas:
  - name: s
    defaults: { timeout: 5s }
    steps:
      - name: first
        command: { subject: a.cmd, type: Do }
        reply: { subject: a.evt, success: [Done] }
        compensate:
          command: { subject: a.cmd, type: Undo }
          reply: { subject: a.evt, success: [Undone] }
      - name: last
        pivot: true
        command: { subject: a.cmd, type: Do2 }
        reply: { subject: a.evt, success: [Done2] }
`).s as CompiledSaga;

/** The saga with its first step renamed: the loader refuses such names, an older stored definition may have them. */
function renamed(name: string): CompiledSaga {
  const stages: Stage[] = twoSteps.stages.map((s) => (s.name === 'first' ? { ...s, name } as Stage : s));
  return { ...twoSteps, stages };
}

t.test('a step named like an Object.prototype property is dispatched, succeeds and is compensated', async (t) => {
  for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf']) {
    const saga = renamed(name);
    const done = runTrace(saga, [
      { do: 'start', at: 0 },
      { do: 'reply', at: 10, step: name, type: 'Done' },
      { do: 'reply', at: 20, step: 'last', type: 'Done2' },
    ]);
    t.match(done.outputs[0]?.events, [/^SagaStarted/, new RegExp(`^StepDispatched ${name}#1`)], `${name}: dispatched at the start`);
    t.equal(done.state.status, 'completed', `${name}: the saga completes`);
    t.same(done.replayed, done.state, `${name}: the journal rebuilds the state`);
    const undone = runTrace(saga, [
      { do: 'start', at: 0 },
      { do: 'cancel', at: 20, reason: 'changed my mind' },
      { do: 'reply', at: 30, step: name, type: 'Undone', undo: true },
    ]);
    t.equal(undone.state.status, 'compensated', `${name}: a cancel while it awaits its reply compensates it`);
    t.equal(undone.state.steps[name]?.compensation?.status, 'compensated');
  }
});

t.test('evolve keeps a step named like an Object.prototype property as its own entry', async (t) => {
  const started: SagaEvent = {
    type: 'SagaStarted', at: 0, instanceId: 'i1', saga: 's', definitionHash: 'h', key: null, correlationId: 'c1', input: {}, event: null, deadlineAt: null,
  };
  for (const step of ['constructor', 'toString', 'valueOf']) {
    const s = [
      started,
      { type: 'StepDispatched', at: 1, step, attempt: 1, commandId: 'm1', timeoutAt: 100 },
      { type: 'StepSucceeded', at: 2, step, replyId: 'r1', output: { ok: 1 }, pivot: false },
    ].reduce<InstanceState | undefined>((st, e) => evolve(st, e as SagaEvent), undefined);
    t.ok(s !== undefined && Object.hasOwn(s.steps, step), step);
    t.match(s?.steps[step], { status: 'succeeded', commands: ['m1'], output: { ok: 1 }, doneSeq: 1 });
  }
});

t.test('a stored definition with a step named constructor still compiles, and the step runs', async (t) => {
  const source = twoSteps.source.replaceAll('"first"', '"constructor"');
  const r = compileSagaSource(source);
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  const d = startOf(r.saga, {});
  t.same(sent(d.effects).map((e) => e.step), ['constructor']);
  t.equal(d.state.steps['constructor' as string]?.status, 'running');
});

// 2. A payload key `__proto__` is a field of the payload.

const lit = (value: unknown): Template => ({ kind: 'literal', value });
const expr = (source: string): Template => ({ kind: 'expr', expr: compileExpr(source) });

t.test('a template key __proto__ renders as an own field, never as the prototype', async (t) => {
  const scope = { input: { meta: { source: 'web' }, orderId: 'o-1' }, steps: {}, saga: { id: 'i', key: null, name: 's', correlationId: 'c' }, event: null };
  for (const proto of [expr('{% $input.meta %}'), lit({ source: 'web' }), { kind: 'object', entries: [['source', expr('{% $input.meta.source %}')]] } as Template]) {
    const r = renderTemplate({ kind: 'object', entries: [['__proto__', proto], ['orderId', expr('{% $input.orderId %}')]] }, scope);
    if (!r.ok) throw new Error(r.error);
    const value = r.value as Record<string, unknown>;
    t.equal(Object.getPrototypeOf(value), Object.prototype, `${proto.kind}: the prototype is untouched`);
    t.ok(Object.hasOwn(value, '__proto__'), `${proto.kind}: an own field`);
    t.equal(value.source, undefined, `${proto.kind}: nothing inherited`);
    t.equal(JSON.stringify(value), '{"__proto__":{"source":"web"},"orderId":"o-1"}', `${proto.kind}: published as written`);
  }
});

const protoSagas = sagasOf(`
sagas:
  - name: both
    defaults: { timeout: 5s }
    schemas:
      Reserve: { type: object, required: [orderId], properties: { orderId: { type: string } } }
    steps:
      - name: reserve
        pivot: true
        command:
          subject: inventory.cmd
          type: Reserve
          payload:
            __proto__: "{% $input.meta %}"
            orderId: "{% $input.orderId %}"
        reply: { subject: inventory.evt, success: [Reserved] }
  - name: by-expression
    defaults: { timeout: 5s }
    schemas:
      Reserve: { type: object, required: [orderId], properties: { orderId: { type: string } } }
    steps:
      - name: reserve
        pivot: true
        command:
          subject: inventory.cmd
          type: Reserve
          payload:
            __proto__: "{% $input.meta %}"
        reply: { subject: inventory.evt, success: [Reserved] }
  - name: by-literal
    defaults: { timeout: 5s }
    schemas:
      Reserve: { type: object, required: [orderId], properties: { orderId: { type: string } } }
    steps:
      - name: reserve
        pivot: true
        command:
          subject: inventory.cmd
          type: Reserve
          payload:
            __proto__: { orderId: o-1 }
        reply: { subject: inventory.evt, success: [Reserved] }
`);

t.test('the published payload holds a __proto__ field, and its schema is checked against what is published', async (t) => {
  const input = { orderId: 'o-1', meta: { orderId: 'o-1', source: 'web' } };
  const ok = startOf(protoSagas.both as CompiledSaga, input);
  const [cmd] = sent(ok.effects);
  t.equal(JSON.stringify(cmd?.command.payload), '{"__proto__":{"orderId":"o-1","source":"web"},"orderId":"o-1"}');
  t.equal(Object.getPrototypeOf(cmd?.command.payload), Object.prototype);

  // The only orderId is inside the __proto__ field: the schema refuses what would be published,
  // whether the field comes from an expression or is written out.
  for (const name of ['by-expression', 'by-literal']) {
    const d = startOf(protoSagas[name] as CompiledSaga, input);
    t.same(sent(d.effects), [], `${name}: nothing is published`);
    const failed = d.events.find((e) => e.type === 'StepFailed');
    t.match(failed, { step: 'reserve', error: /Reserve@1 payload does not match its schema: .*orderId/ }, `${name}: the step fails on its schema`);
  }
});

// 3. A delay's until: a whole epoch-ms time at most 100 years ahead; offsets within a day.

const delaySaga = sagasOf(`
sagas:
  - name: d
    defaults: { timeout: 5s }
    steps:
      - name: wait-until
        delay: { until: "{% $input.at %}" }
      - name: a
        pivot: true
        command: { subject: a.cmd, type: Do }
        reply: { subject: a.evt, success: [Done] }
`).d as CompiledSaga;

const NOW = 1_700_000_000_000;
/** 100 years, as the definitions allow at most; the core has it as `MAX_DELAY_MS`. */
const MAX_DELAY_MS = MAX_DURATION_MS;
/** The largest distance from 1970 a Date holds. */
const MAX_EPOCH_MS = 8.64e15;

function delayOutcome(at: unknown) {
  const d = startOf(delaySaga, { at }, NOW);
  const failed = d.events.find((e) => e.type === 'StepFailed');
  const timer = d.effects.find((e) => e.type === 'ScheduleTimer' && e.timerId === 'delay:wait-until');
  return { d, error: failed?.type === 'StepFailed' ? failed.error : null, dueAt: timer?.type === 'ScheduleTimer' ? timer.dueAt : null };
}

t.test('the longest delay is the longest duration a definition may give', async (t) => {
  t.equal(delay.MAX_DELAY_MS, MAX_DURATION_MS);
});

t.test('an until more than 100 years ahead, not whole ms or beyond any date fails the step, with the reason', async (t) => {
  const cases: [unknown, RegExp][] = [
    [1e17, /gave 100000000000000000, which is more than 100 years \(36525d\) from now/],
    [1e300, /gave 1e\+300, which is more than 100 years/],
    [NOW + MAX_DELAY_MS + 1, /more than 100 years/],
    ['9999-12-31T00:00:00Z', /gave "9999-12-31T00:00:00Z", which is more than 100 years/],
    [1.5, /gave 1.5, which is not a whole number of epoch milliseconds/],
    [NOW + 0.5, /not a whole number of epoch milliseconds/],
    [-MAX_EPOCH_MS - 1, /which is not between -271821-04-20T00:00:00.000Z and \+275760-09-13T00:00:00.000Z/],
    ['2026-01-01T00:00:00+99:99', /gave "2026-01-01T00:00:00\+99:99", which is not an ISO timestamp/],
  ];
  for (const [at, reason] of cases) {
    const { d, error, dueAt } = delayOutcome(at);
    t.match(error, reason, `${JSON.stringify(at)} fails the step`);
    t.equal(dueAt, null, `${JSON.stringify(at)} schedules no timer`);
    t.equal(d.state.status, 'compensated', `${JSON.stringify(at)}: the saga compensates (nothing was done)`);
  }
});

t.test('an until up to 100 years ahead waits; one in the past goes on at once', async (t) => {
  t.equal(delayOutcome(NOW + MAX_DELAY_MS).dueAt, NOW + MAX_DELAY_MS, 'exactly 100 years ahead');
  t.equal(delayOutcome('2030-01-01T00:00:00+23:59').dueAt, Date.parse('2030-01-01T00:00:00+23:59'), 'the largest offset');
  const past = delayOutcome(-MAX_EPOCH_MS);
  t.equal(past.error, null);
  t.match(past.d.events.map((e) => e.type), ['SagaStarted', 'DelayStarted', 'StepSucceeded', 'StepDispatched']);
  t.same(past.d.state.steps['wait-until']?.output, { until: new Date(-MAX_EPOCH_MS).toISOString() }, 'its result is a time Date writes the same');
});

t.test('any number or text until either fails the step or waits until a time a Date can show', async (t) => {
  const at = fc.oneof(
    fc.double({ noNaN: false }),
    fc.integer({ min: -MAX_EPOCH_MS - 10, max: MAX_EPOCH_MS + 10 }),
    fc.integer({ min: NOW - 10, max: NOW + MAX_DELAY_MS + 10 }),
    fc.date({ min: new Date(0), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  );
  fc.assert(fc.property(at, (value) => {
    const { error, dueAt, d } = delayOutcome(value);
    if (error !== null) return dueAt === null;
    const until = typeof value === 'string' ? Date.parse(value) : value;
    const output = (d.state.steps['wait-until']?.output as { until: string }).until;
    if (new Date(until).toISOString() !== output || !Number.isInteger(until) || until - NOW > MAX_DELAY_MS) return false;
    return dueAt === null ? until <= NOW : dueAt === until;
  }), { numRuns: 2000 });
  t.pass('held for every value tried');
});

t.test('an offset is at most 23:59', async (t) => {
  t.equal(parseIsoTime('2026-11-27T15:00:00+23:59'), Date.parse('2026-11-27T15:00:00+23:59'));
  t.equal(parseIsoTime('2026-11-27T15:00:00-2359'), Date.parse('2026-11-27T15:00:00-23:59'));
  for (const bad of ['+99:99', '+24:00', '-24:00', '+23:60', '-00:60', '+2400', '+1260']) {
    t.ok(Number.isNaN(parseIsoTime(`2026-11-27T15:00:00${bad}`)), `${bad} is no offset`);
  }
});

t.test('formatting agrees with Date over every time a Date holds', async (t) => {
  fc.assert(fc.property(fc.integer({ min: -MAX_EPOCH_MS, max: MAX_EPOCH_MS }), (ms) => formatIsoTime(ms) === new Date(ms).toISOString()));
  for (const ms of [-MAX_EPOCH_MS, MAX_EPOCH_MS, -62_167_219_200_001, 253_402_300_800_000]) t.equal(formatIsoTime(ms), new Date(ms).toISOString());
});
