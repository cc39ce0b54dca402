import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import t from 'tap';
import type { CompiledSaga, Expr, ExprScope, LeafStep, MessageSpec, Template } from '../../engine/core/definition.js';
import { compileSagaSource, formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import type { DefinitionError } from '../../engine/definitions/index.js';
import { commandYaml, errorsOf, positionOf, sagaYaml } from './fixtures/saga-yaml.js';

const root = resolve(import.meta.dirname, '../..');
const examples = ['sagas/order-fulfillment.yaml', 'sagas/trip-booking.yaml'];

function load(file: string): CompiledSaga {
  const r = loadDefinitionsFile(resolve(root, file));
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  const [saga] = r.sagas;
  if (saga === undefined) throw new Error(`no saga in ${file}`);
  return saga;
}

function restore(source: string): CompiledSaga {
  const r = compileSagaSource(source);
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  return r.saga;
}

function errorsOfSource(source: string): DefinitionError[] {
  const r = compileSagaSource(source);
  if (r.ok) throw new Error('expected errors, but the source compiled');
  return r.errors;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The source as data, to change a field and write it back. */
interface SourceData {
  definition: Record<string, unknown> & { steps: Record<string, unknown>[] };
  schemaFiles: Record<string, string>;
}
const parse = (source: string): SourceData => JSON.parse(source) as SourceData;

const scopes: ExprScope[] = [false, true].map((needsCar) => ({
  input: {
    orderId: 'o-1', customerId: 'c-7', total: 42, items: [{ sku: 'a', quantity: 2 }], shippingAddress: { city: 'Lyon' },
    bookingId: 'b-1', from: 'LIS', to: 'CDG', departureDate: '2026-12-01', nights: 3, needsCar, email: 'a@b.c',
  },
  steps: {
    'reserve-inventory': { reservationId: 'r-1' }, 'charge-payment': { paymentId: 'p-1' },
    'book-flight': { ticket: 't-1', arrival: '10:00' }, 'book-hotel': { reservation: 'h-1' },
    'await-payment': { paymentId: 'p-2' }, 'rent-car': { rental: 'car-1' },
  },
  saga: { id: 'i-1', key: 'k-1', name: 'any', correlationId: 'c-1' },
  event: { payload: { bookingId: 'b-1' } },
}));
const roots = [{ payload: { bookingId: 'b-1' } }, { payload: { bookingId: 'b-2' } }, null];

/** Every value an expression gives on the sample scopes, or the message it throws. */
function run(expr: Expr | null, withRoots = false): unknown {
  if (expr === null) return null;
  const values = scopes.flatMap((scope) => (withRoots ? roots : [undefined]).map((r) => {
    try {
      return { value: expr.evaluate(scope, r) ?? null };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }));
  return { source: expr.source, values };
}

function render(tpl: Template): unknown {
  switch (tpl.kind) {
    case 'literal': return { literal: tpl.value };
    case 'expr': return run(tpl.expr);
    case 'array': return tpl.items.map(render);
    case 'object': return Object.fromEntries(tpl.entries.map(([k, v]) => [k, render(v)]));
  }
}

const message = (m: MessageSpec): unknown => ({ subject: m.subject, type: m.type, version: m.version, payload: render(m.payload) });

function leaf(s: LeafStep): unknown {
  const compensate = s.compensate === null ? null
    : { command: message(s.compensate.command), reply: s.compensate.reply, timeout: s.compensate.timeout, retry: s.compensate.retry };
  const common = { kind: s.kind, name: s.name, afterPivot: s.afterPivot, when: run(s.when), compensate };
  if (s.kind === 'delay') return { ...common, duration: s.duration, until: run(s.until) };
  if (s.kind === 'saga') return { ...common, saga: s.saga, key: run(s.key), timeout: s.timeout };
  return s.kind === 'command'
    ? { ...common, pivot: s.pivot, command: message(s.command), reply: s.reply, timeout: s.timeout, retry: s.retry }
    : { ...common, subject: s.subject, type: s.type, match: run(s.match, true), timeout: s.timeout };
}

const payloads: unknown[] = [
  null, 'text', 42, [], {},
  { orderId: 'o-1', customerId: 'c-7', items: [{ sku: 'a', quantity: 1 }], total: 10 },
  { orderId: 'o-1', customerId: 'c-7', items: [], total: -1 },
  { orderId: 'o-1', items: [{ sku: 'a', quantity: 1 }] },
  { orderId: 'o-1', items: [{ sku: 'a', quantity: 1 }], extra: true },
  { reservationId: 'r-1' }, { reservationId: '' },
  { bookingId: 'b-1', from: 'LIS', to: 'CDG', date: '2026-12-01' },
  { bookingId: 'b-1', from: 'lisbon', to: 'CDG', date: '2026-12-01' },
];

/** What a saga does, as plain data: its stages, what its expressions give, what its schemas say. */
function behaviour(saga: CompiledSaga): unknown {
  return {
    name: saga.name, description: saga.description, timeout: saga.timeout,
    start: { on: saga.start.on, key: run(saga.start.key) },
    stages: saga.stages.map((stage) => stage.kind === 'parallel'
      ? { kind: stage.kind, name: stage.name, when: run(stage.when), branches: stage.branches.map((b) => b.map(leaf)) }
      : stage.kind === 'forEach'
        ? { kind: stage.kind, name: stage.name, when: run(stage.when), items: run(stage.items), maxConcurrency: stage.maxConcurrency, maxItems: stage.maxItems, step: leaf(stage.step) }
        : leaf(stage)),
    schemas: Object.keys(saga.schemas).sort().map((id) => [id, payloads.map((p) => saga.schemas[id]?.(p))]),
  };
}

for (const file of examples) {
  t.test(`${file}: compiled again from its source, the saga is the same`, async (t) => {
    const saga = load(file);
    t.equal(sha256(saga.source), saga.hash, 'the hash is the sha256 of the source');
    const again = restore(saga.source);
    t.equal(again.hash, saga.hash);
    t.equal(again.source, saga.source);
    t.same(behaviour(again), behaviour(saga));
    t.same(again.stages.map((s) => [s.kind, s.name]), saga.stages.map((s) => [s.kind, s.name]));
  });
}

t.test('the comparison is not vacuous: it sees expressions, timeouts, retries and schema verdicts', async (t) => {
  const order = behaviour(load(examples[0]!)) as { schemas: [string, (string | null)[]][] };
  const verdicts = order.schemas.flatMap(([, v]) => v);
  t.ok(verdicts.includes(null), 'some payloads are accepted');
  t.ok(verdicts.some((v) => typeof v === 'string'), 'some are rejected');
  t.match(behaviour(load(examples[1]!)), {
    start: { key: { source: '$input.bookingId', values: [{ value: 'b-1' }, { value: 'b-1' }] } },
    stages: [
      { kind: 'parallel', branches: [[{ name: 'book-flight', timeout: 20_000, retry: { maxAttempts: 4 }, compensate: { retry: { maxAttempts: null } } }], [{ name: 'book-hotel', timeout: 60_000 }]] },
      { kind: 'wait', match: { values: [{ value: true }, { value: false }, { value: false }, { value: true }, { value: false }, { value: false }] }, timeout: 3_600_000 },
      { name: 'rent-car', when: { values: [{ value: false }, { value: true }] } },
    ],
  });
});

t.test('the hash is of the content: reformatted is the same, a changed field or schema file is not', async (t) => {
  const saga = load(examples[0]!);
  const data = parse(saga.source);
  t.match(restore(JSON.stringify(data, null, 2)), { hash: saga.hash, source: saga.source });

  const slower = restore(JSON.stringify({ ...data, definition: { ...data.definition, timeout: '11m' } }));
  t.not(slower.hash, saga.hash);
  t.equal(slower.timeout, 660_000);
  t.equal(sha256(slower.source), slower.hash);

  const file = 'schemas/order-placed.v1.json';
  const looser = restore(JSON.stringify({ ...data, schemaFiles: { ...data.schemaFiles, [file]: '{ "type": "object" }' } }));
  t.not(looser.hash, saga.hash);
  t.equal(looser.schemas['OrderPlaced@1']?.({}), null);
  t.match(saga.schemas['OrderPlaced@1']?.({}), /required property/);
});

t.test('a source that is not JSON is an error with a readable message', async (t) => {
  const [error, ...rest] = errorsOfSource('{"definition": {"name": ');
  t.same(rest, []);
  t.match(error, { file: '<stored definition>', line: 1, path: '', message: /^the stored definition is not JSON: / });
  t.match(formatDefinitionError(error!), /^<stored definition>:1:\d+: the stored definition is not JSON: .+\. The source of a saga/);
});

t.test('a source of the wrong shape says what a source holds', async (t) => {
  t.match(errorsOfSource('[]'), [{ path: '', message: 'the stored definition is not a JSON object', hint: /`definition`.*`schemaFiles`/ }]);
  t.match(errorsOfSource('{"definition": 3, "schemaFiles": {"a.json": 1}, "more": true}'), [
    { path: 'definition', message: '`definition` is missing or not a mapping' },
    { path: 'schemaFiles["a.json"]', message: 'the stored schema file `a.json` is not text' },
    { path: 'more', message: 'unknown field `more`' },
  ]);
});

t.test('an invalid definition reports the path and the position in the source', async (t) => {
  const data = parse(load(examples[0]!).source);
  data.definition.steps[0]!.timeout = 'soon';
  const text = JSON.stringify(data);
  t.match(errorsOfSource(text), [{ file: '<stored definition>', ...positionOf(text, '"soon"'), path: 'definition.steps[0].timeout', message: '`soon` is not a duration' }]);

  const later = parse(load(examples[0]!).source);
  later.definition.steps[0]!.when = '{% $steps.`ship-order`.ok %}';
  t.match(errorsOfSource(JSON.stringify(later)), [{ path: 'definition.steps[0].when', message: /ship-order/ }]);
});

t.test('schema files come from the source: a missing one and an unused one are errors', async (t) => {
  const data = parse(load(examples[0]!).source);
  const { 'schemas/order-placed.v1.json': _gone, ...rest } = data.schemaFiles;
  t.match(errorsOfSource(JSON.stringify({ ...data, schemaFiles: { ...rest, 'unused.json': '{}' } })), [
    { path: 'definition.schemas["OrderPlaced@1"]', message: 'cannot read the schema file `schemas/order-placed.v1.json`: it is not among the stored schema files' },
    { path: 'schemaFiles["unused.json"]', message: 'the schema file `unused.json` is stored but no schema names it' },
  ]);
});

t.test('the loader refuses values that JSON cannot hold, since the source would change them', async (t) => {
  const text = sagaYaml(commandYaml('a', { payload: '{ limit: .inf, day: !!timestamp 2001-12-14, ok: 1 }' }));
  t.match(errorsOf(text), [
    { ...positionOf(text, '.inf'), path: 'sagas[0].steps[0].command.payload.limit', message: '`Infinity` is not a number JSON can hold' },
    { ...positionOf(text, '2001-12-14'), path: 'sagas[0].steps[0].command.payload.day', message: 'a Date value is not JSON data' },
  ]);
});
