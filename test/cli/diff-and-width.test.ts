/**
 * `defs diff` compares every field of every step kind, and says what differs as written when
 * no compared field does; tables measure terminal columns, not code points, and fit 80 columns.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { InstanceSummaryDocument } from '../../engine/api/index.js';
import type { CompiledSaga } from '../../engine/core/index.js';
import { formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import { diffDefinitions, diffText } from '../../cli/defs-diff.js';
import { makeStyle } from '../../cli/render/style.js';
import { renderTable, truncate } from '../../cli/render/table.js';
import { displayWidth } from '../../cli/render/width.js';
import { wrap } from '../../cli/render/wrap.js';
import { describeText, instanceListTable } from '../../cli/views/instances.js';
import { root } from './fixture.js';
import { cli } from './helpers.js';

const dir = t.testdir();
const plain = makeStyle(false);
let files = 0;

/** Writes `data` (JSON is YAML) with a schema file beside it and loads it. */
function load(data: unknown, schemaText = '{"type":"object"}'): CompiledSaga[] {
  const file = join(dir, `defs-${++files}.yaml`);
  writeFileSync(join(dir, 'ship.schema.json'), schemaText);
  writeFileSync(file, JSON.stringify(data, null, 2));
  const r = loadDefinitionsFile(file);
  if (!r.ok) throw new Error(r.errors.map(formatDefinitionError).join('\n'));
  return r.sagas;
}

const cmd = (subject: string, type: string, payload: unknown = { id: '{% $input.id %}' }) => ({ subject, type, payload });
const compensate = (type: string) => ({ command: cmd('undo.commands', type), reply: { subject: 'undo.events', success: [`${type}Done`] } });

/** Every step kind with every field it can have. */
function base() {
  return {
    version: 1,
    sagas: [
      {
        name: 'every-kind',
        description: 'one of each',
        start: { on: { subject: 'orders.events', type: 'OrderPlaced' }, key: '{% $input.id %}' },
        timeout: '1h',
        defaults: { timeout: '20s', retry: { maxAttempts: 3, initialInterval: '1s', maxInterval: '30s' } },
        schemas: { 'Ship@1': 'ship.schema.json', 'Pack@1': { type: 'object' } },
        steps: [
          {
            name: 'reserve', when: '{% $input.reserve %}', command: { ...cmd('inventory.commands', 'Reserve'), version: 1 },
            reply: { subject: 'inventory.events', success: ['Reserved'], failure: ['OutOfStock'], retryable: ['Busy'] },
            timeout: '5s', retry: { maxAttempts: 4, initialInterval: '1s', backoffRate: 2, maxInterval: '10s', jitter: 'full' },
            compensate: { ...compensate('Release'), timeout: '7s', retry: { maxAttempts: 'unlimited', initialInterval: '2s' } },
          },
          {
            name: 'await-payment', when: '{% $input.pay %}', wait: { subject: 'payments.events', type: 'Paid', match: '{% payload.id = $input.id %}' },
            timeout: '1h', compensate: compensate('Refund'),
          },
          { name: 'cool-off', when: '{% $input.cool %}', delay: { for: '2d' } },
          { name: 'ship-day', delay: { until: '{% $input.shipAt %}' } },
          { name: 'book', when: '{% $input.book %}', saga: 'child', input: { id: '{% $input.id %}', nights: '{% $input.nights %}' }, key: '{% $input.id %}', timeout: '10m' },
          {
            name: 'fan-out', when: '{% $input.fan %}',
            parallel: [
              [{ name: 'left', command: cmd('left.commands', 'Left'), reply: { subject: 'left.events', success: ['LeftDone'] }, compensate: compensate('Unleft') }],
              [
                { name: 'right', command: cmd('right.commands', 'Right'), reply: { subject: 'right.events', success: ['RightDone'] }, compensate: compensate('Unright') },
                { name: 'nap', delay: { for: '1m' } },
                { name: 'branch-child', saga: 'child', input: { id: '{% $input.id %}' }, key: '{% $input.id & "-b" %}' },
              ],
            ],
          },
          {
            name: 'lines', when: '{% $input.lines %}', forEach: { items: '{% $input.lines %}', maxConcurrency: 2, maxItems: 50 },
            command: cmd('lines.commands', 'Line', { line: '{% $item %}' }), reply: { subject: 'lines.events', success: ['LineDone'] }, compensate: compensate('Unline'),
          },
          {
            name: 'pick', when: '{% $input.pick %}', forEach: { items: '{% $input.lines %}', maxConcurrency: 3, maxItems: 60 },
            steps: [
              { name: 'take', when: '{% $item.q > 0 %}', command: cmd('pick.commands', 'Take', { sku: '{% $item.sku %}' }), reply: { subject: 'pick.events', success: ['Taken'] }, compensate: compensate('Put') },
              { name: 'wrap', command: cmd('pick.commands', 'Wrap'), reply: { subject: 'pick.events', success: ['Wrapped'] }, compensate: compensate('Unwrap') },
            ],
          },
          { name: 'ship', pivot: true, command: { ...cmd('ship.commands', 'Ship'), version: 1 }, reply: { subject: 'ship.events', success: ['Shipped'] } },
        ],
      },
      ...['child', 'other-child'].map((name) => ({
        name, steps: [{ name: 'work', timeout: '5s', command: cmd('child.commands', 'Work'), reply: { subject: 'child.events', success: ['Worked'] }, compensate: compensate('Unwork') }],
      })),
    ],
  };
}

type Def = ReturnType<typeof base>;
type Step = Record<string, unknown> & { name: string };
type Saga = Def['sagas'][number] & { steps: Step[]; [k: string]: unknown };

const saga = (d: Def): Saga => d.sagas[0] as Saga;
const step = (d: Def, name: string): Step => {
  const all = saga(d).steps.flatMap((s) => [s, ...((s.parallel as Step[][] | undefined)?.flat() ?? []), ...((s.steps as Step[] | undefined) ?? [])]);
  const found = all.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no step ${name}`);
  return found;
};
const obj = (v: unknown) => v as Record<string, unknown>;

/** One change to each field of each step kind (and of the saga), by what it touches. */
const edits: [string, (d: Def) => void][] = [
  ['saga description', (d) => { saga(d).description = 'changed'; }],
  ['saga start.on', (d) => { obj(obj(saga(d).start).on).type = 'OrderTaken'; }],
  ['saga start.key', (d) => { obj(saga(d).start).key = '{% $input.id & "x" %}'; }],
  ['saga timeout', (d) => { saga(d).timeout = '2h'; }],
  ['saga defaults.timeout', (d) => { obj(saga(d).defaults).timeout = '25s'; }],
  ['saga defaults.retry', (d) => { obj(obj(saga(d).defaults).retry).maxAttempts = 9; }],
  ['inline schema', (d) => { obj(saga(d).schemas)['Pack@1'] = { type: 'object', required: ['id'] }; }],
  ['command when', (d) => { step(d, 'reserve').when = '{% $input.r %}'; }],
  ['command subject', (d) => { obj(step(d, 'reserve').command).subject = 'stock.commands'; }],
  ['command type', (d) => { obj(step(d, 'reserve').command).type = 'Hold'; }],
  ['command version', (d) => { obj(step(d, 'reserve').command).version = 2; }],
  ['command payload', (d) => { obj(step(d, 'reserve').command).payload = { id: '{% $input.id + 1 %}' }; }],
  ['reply subject', (d) => { obj(step(d, 'reserve').reply).subject = 'stock.events'; }],
  ['reply success', (d) => { obj(step(d, 'reserve').reply).success = ['Held']; }],
  ['reply failure', (d) => { obj(step(d, 'reserve').reply).failure = ['None']; }],
  ['reply retryable', (d) => { obj(step(d, 'reserve').reply).retryable = ['Later']; }],
  ['command timeout', (d) => { step(d, 'reserve').timeout = '6s'; }],
  ...(['maxAttempts', 'initialInterval', 'backoffRate', 'maxInterval', 'jitter'] as const).map((k): [string, (d: Def) => void] => [
    `command retry.${k}`, (d) => { obj(step(d, 'reserve').retry)[k] = { maxAttempts: 5, initialInterval: '3s', backoffRate: 3, maxInterval: '20s', jitter: 'none' }[k]; },
  ]),
  ['compensate command type', (d) => { obj(obj(step(d, 'reserve').compensate).command).type = 'Free'; }],
  ['compensate payload', (d) => { obj(obj(step(d, 'reserve').compensate).command).payload = { id: '{% $steps.reserve.id %}' }; }],
  ['compensate reply', (d) => { obj(obj(step(d, 'reserve').compensate).reply).success = ['Freed']; }],
  ['compensate timeout', (d) => { obj(step(d, 'reserve').compensate).timeout = '8s'; }],
  ['compensate retry', (d) => { obj(obj(step(d, 'reserve').compensate).retry).initialInterval = '4s'; }],
  ['pivot', (d) => { delete step(d, 'ship').pivot; step(d, 'ship').compensate = compensate('Unship'); }],
  ['wait when', (d) => { step(d, 'await-payment').when = '{% $input.p %}'; }],
  ['wait subject', (d) => { obj(step(d, 'await-payment').wait).subject = 'money.events'; }],
  ['wait type', (d) => { obj(step(d, 'await-payment').wait).type = 'Settled'; }],
  ['wait match', (d) => { obj(step(d, 'await-payment').wait).match = '{% payload.ref = $input.id %}'; }],
  ['wait timeout', (d) => { step(d, 'await-payment').timeout = '2h'; }],
  ['wait compensate payload', (d) => { obj(obj(step(d, 'await-payment').compensate).command).payload = { ref: '{% $input.id %}' }; }],
  ['delay when', (d) => { step(d, 'cool-off').when = '{% $input.c %}'; }],
  ['delay for', (d) => { step(d, 'cool-off').delay = { for: '3d' }; }],
  ['delay until', (d) => { step(d, 'ship-day').delay = { until: '{% $input.shipOn %}' }; }],
  ['delay for to until', (d) => { step(d, 'cool-off').delay = { until: '{% $input.coolUntil %}' }; }],
  ['saga step when', (d) => { step(d, 'book').when = '{% $input.b %}'; }],
  ['saga step saga', (d) => { step(d, 'book').saga = 'other-child'; }],
  ['saga step input', (d) => { obj(step(d, 'book').input).nights = '{% $input.nights + 1 %}'; }],
  ['saga step input field added', (d) => { obj(step(d, 'book').input).city = '{% $input.city %}'; }],
  ['saga step input as one expression', (d) => { step(d, 'book').input = '{% $input %}'; }],
  ['saga step input removed', (d) => { delete step(d, 'book').input; }],
  ['saga step key', (d) => { step(d, 'book').key = '{% $input.id & "-stay" %}'; }],
  ['saga step key removed', (d) => { delete step(d, 'book').key; }],
  ['saga step timeout', (d) => { step(d, 'book').timeout = '20m'; }],
  ['saga step in a branch: input', (d) => { step(d, 'branch-child').input = { id: '{% $input.other %}' }; }],
  ['saga step in a branch: key', (d) => { step(d, 'branch-child').key = '{% $input.id %}'; }],
  ['delay in a branch', (d) => { step(d, 'nap').delay = { for: '2m' }; }],
  ['parallel when', (d) => { step(d, 'fan-out').when = '{% $input.f %}'; }],
  ['parallel branches', (d) => { const p = step(d, 'fan-out').parallel as Step[][]; p[0]?.push(...(p[1]?.splice(0, 1) ?? [])); }],
  ['forEach when', (d) => { step(d, 'lines').when = '{% $input.l %}'; }],
  ['forEach items', (d) => { obj(step(d, 'lines').forEach).items = '{% $input.items %}'; }],
  ['forEach maxConcurrency', (d) => { obj(step(d, 'lines').forEach).maxConcurrency = 3; }],
  ['forEach maxItems', (d) => { obj(step(d, 'lines').forEach).maxItems = 70; }],
  ['forEach payload', (d) => { obj(step(d, 'lines').command).payload = { line: '{% $index %}' }; }],
  ['forEach group when', (d) => { step(d, 'pick').when = '{% $input.k %}'; }],
  ['forEach group items', (d) => { obj(step(d, 'pick').forEach).items = '{% $input.items %}'; }],
  ['forEach group maxConcurrency', (d) => { obj(step(d, 'pick').forEach).maxConcurrency = 1; }],
  ['forEach group maxItems', (d) => { obj(step(d, 'pick').forEach).maxItems = 10; }],
  ['forEach group steps', (d) => { (step(d, 'pick').steps as Step[]).pop(); }],
  ['forEach group step when', (d) => { step(d, 'take').when = '{% $item.q > 1 %}'; }],
  ['forEach group step payload', (d) => { obj(step(d, 'take').command).payload = { sku: '{% $item.code %}' }; }],
  ['forEach group step compensate', (d) => { obj(obj(step(d, 'take').compensate).command).type = 'Shelve'; }],
];

t.test('defs diff: a change to any field of any step kind is named, never called formatting', async (t) => {
  const old = load(base());
  for (const [what, edit] of edits) {
    const d = base();
    edit(d);
    const diffs = diffDefinitions(old, load(d));
    const changed = diffs.find((x) => x.saga === 'every-kind');
    t.equal(changed?.change, 'changed', `${what}: changed`);
    t.ok((changed?.fields.length ?? 0) + (changed?.steps.length ?? 0) > 0, `${what}: a compared field differs`);
    t.equal(changed?.written, undefined, `${what}: nothing left to explain`);
    t.notMatch(diffText(diffs, plain), /formatting|does not compare/, `${what}: named, not guessed`);
  }
});

t.test('defs diff: a child saga step\'s input and key (the reviewer\'s files)', async (t) => {
  const text = readFileSync(join(root, 'sagas/trip-with-child.yaml'), 'utf8');
  const changed = text.replace('nights: "{% $input.nights %}"\n        key: "{% $input.tripId %}"', 'nights: "{% $input.nights + 1 %}"\n        key: "{% $input.tripId & \'-stay\' %}"');
  t.not(changed, text, 'the edit applies');
  writeFileSync(join(dir, 'tw-old.yaml'), text);
  writeFileSync(join(dir, 'tw-new.yaml'), changed);
  const r = await cli(['defs', 'diff', join(dir, 'tw-old.yaml'), join(dir, 'tw-new.yaml')]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /saga trip-with-child: changed \(hash \w{12} → \w{12}\)\n {2}step book-stay: changed\n/);
  t.match(r.out, '    input.nights: {% $input.nights %} → {% $input.nights + 1 %}\n');
  t.match(r.out, '    key: {% $input.tripId %} → {% $input.tripId & \'-stay\' %}\n');
  t.notMatch(r.out, /formatting/);
});

t.test('defs diff: hashes differ and no compared field does', async (t) => {
  const old = load(base());
  // The same effective definition written another way: every step gives its own timeout or none.
  const d = base();
  step(d, 'reserve').timeout = '5000ms';
  const other = diffDefinitions(old, load(d));
  const s = other.find((x) => x.saga === 'every-kind');
  t.strictSame(s?.fields, []);
  t.strictSame(s?.steps, []);
  t.strictSame(s?.written, [{ path: 'steps[reserve].timeout', old: '5s', new: '5000ms' }]);
  const text = diffText(other, plain);
  t.match(text, '  a field this sagactl does not compare differs, or a value is written another way (1m for 60s):\n    steps[reserve].timeout: 5s → 5000ms\n');
  t.notMatch(text, /formatting/);

  // Only the text of a schema file changed: equal once parsed.
  const reformatted = diffDefinitions(old, load(base(), '{\n  "type": "object"\n}\n'));
  const f = reformatted.find((x) => x.saga === 'every-kind');
  t.not(f?.hash.old, f?.hash.new, 'the hash covers the text');
  t.strictSame(f?.written, []);
  t.match(diffText(reformatted, plain), 'no field differs; the text changed (formatting, comments or the order of keys)\n');
  const same = diffDefinitions(old, load(base()));
  t.strictSame(same.map((x) => [x.change, x.written]), [['unchanged', undefined], ['unchanged', undefined], ['unchanged', undefined]]);
});

t.test('display width: wide characters two columns, combining marks and zero-width characters none', async (t) => {
  const cases: [string, number][] = [
    ['abc', 3], ['注文', 4], ['한국어', 6], ['ＡＢ', 4], ['ｶﾀｶﾅ', 4], ['cafe\u0301', 4], ['e\u0301\u0302', 1],
    ['🚀', 2], ['👍🏽', 2], ['👩‍👩‍👧', 2], ['❤\ufe0f', 2], ['a\u200bb', 2], ['…→∞', 3], ['', 0],
  ];
  for (const [s, w] of cases) t.equal(displayWidth(s), w, JSON.stringify(s));
});

t.test('truncate: to terminal columns, on grapheme boundaries', async (t) => {
  t.equal(truncate('注文番号一二三', 5), '注文…', 'a wide character that would pass the width is left out');
  t.equal(truncate('注文番号', 8), '注文番号', 'fits exactly');
  t.equal(truncate('注文番号', 7), '注文番…');
  t.equal(truncate('cafe\u0301-latte', 5), 'cafe\u0301…', 'the accent stays with its letter');
  t.equal(truncate('cafe\u0301', 4), 'cafe\u0301', 'four columns fit in four');
  t.equal(truncate('e\u0301e\u0301e\u0301', 2), 'e\u0301…');
  t.equal(truncate('👩‍👩‍👧👩‍👩‍👧', 3), '👩‍👩‍👧…', 'an emoji sequence is one cluster');
  t.equal(truncate('abcdef', 1), 'a');
  for (const [s, w] of [['注文番号一二三', 6], ['ab注cd', 3], ['x\u0301y\u0301z\u0301', 2]] as const) {
    t.ok(displayWidth(truncate(s, w)) <= w, `${s} in ${w}`);
  }
});

/** The column (in terminal columns) where `needle` starts on each line that has it. */
const columnOf = (out: string, needle: string): number[] =>
  out.split('\n').filter((l) => l.includes(needle)).map((l) => displayWidth(l.slice(0, l.indexOf(needle))));

t.test('tables: wide and combining characters keep the columns aligned', async (t) => {
  const keys = ['注文-一二三', 'plain-key', 'cafe\u0301-ordre', 'ｶﾀｶﾅ', '🚀-launch'];
  const rows = keys.map((k, i) => [k, `state-${i}`]);
  const wide = renderTable([{ header: 'KEY', shrink: true, min: 4 }, { header: 'STATE' }], rows);
  const at = keys.map((_, i) => columnOf(wide, `state-${i}`)[0]);
  t.strictSame(at, keys.map(() => 13), `every STATE at one column:\n${wide}`);
  const narrow = renderTable([{ header: 'KEY', shrink: true, min: 4 }, { header: 'STATE' }], rows, 16);
  t.strictSame(keys.map((_, i) => columnOf(narrow, `state-${i}`)[0]), keys.map(() => 9), `cut, still aligned:\n${narrow}`);
  t.ok(narrow.split('\n').every((l) => displayWidth(l) <= 16), 'fits');
  t.match(narrow, 'cafe\u0301-o…', 'the accent kept');
});

t.test('the instance list fits 80 columns: SAGA and KEY shrink, then UPDATED and AGE go', async (t) => {
  const now = Date.UTC(2026, 10, 26, 12);
  const ago = (ms: number) => new Date(now - ms).toISOString();
  const item = (id: string, saga: string, key: string | null, state: string): InstanceSummaryDocument => ({
    id, saga, key, correlationId: 'c', state, definitionHash: 'h', createdAt: ago(3_723_000), updatedAt: ago(61_000),
  });
  const uuid = '0b7c6f0e-5d1a-4f8e-9c4b-2a9e1f3d7c11';
  const items = [
    item(uuid, 'order-fulfillment', 'customer-order-2026-000123', 'compensating'),
    item('5f2d8a90-7b3e-4c1d-8e6f-0a1b2c3d4e5f', 'trip-with-child', '注文-二〇二六-一二三', 'running'),
    item('9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d', 'delayed-reminder', 'cafe\u0301-cre\u0300me-bru\u0302le\u0301e', 'completed'),
    item('1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f', 'bulk-shipment', null, 'failed'),
  ];
  const o = (width: number) => ({ now, width, style: plain });
  const fits = (out: string, width: number) => out.split('\n').every((l) => displayWidth(l) <= width);

  const roomy = instanceListTable(items, o(160));
  t.match(roomy.split('\n')[0], /^ID +SAGA +KEY +STATE +AGE +UPDATED$/, 'every column when there is room');

  const at80 = instanceListTable(items, o(80));
  t.ok(fits(at80, 80), `fits 80 columns:\n${at80}`);
  t.match(at80.split('\n')[0], /^ID +SAGA +KEY +STATE +AGE$/, 'UPDATED left out');
  for (const i of items) t.match(at80, `${i.id}  `, 'ids whole');
  t.strictSame(new Set(items.map((_, n) => columnOf(at80, ['compensating', 'running', 'completed', 'failed'][n] ?? '')[0])).size, 1, 'STATE aligned');

  // A child's id is longer: AGE goes too, then SAGA and KEY go down to 4.
  const child = [item(`${uuid}.book-stay.1`, 'book-stay', `${uuid}-stay`, 'compensating'), ...items];
  const narrow = instanceListTable(child, o(80));
  t.ok(fits(narrow, 80), `fits with a child id:\n${narrow}`);
  t.match(narrow.split('\n')[0], /^ID +SAGA +KEY +STATE$/);
  t.match(narrow, `${uuid}.book-stay.1  `);
});

t.test('describe and wrap measure terminal columns too', async (t) => {
  const now = Date.UTC(2026, 10, 26, 12);
  const at = new Date(now - 60_000).toISOString();
  const step = (name: string, lastError: string | null) => ({
    name, state: 'failed', attempts: 1, startedAt: at, finishedAt: at, lastError, compensation: null,
  });
  const doc = {
    id: 'ord-1', saga: 'order-fulfillment', definitionHash: 'h', key: '注文-一', correlationId: 'c', state: 'failed',
    createdAt: at, updatedAt: at, deadlineAt: null, input: {},
    steps: [step('reserve-inventory-for-the-whole-order', '在庫がありません: 倉庫の在庫が不足しています'), step('charge-payment', null)],
  } as unknown as Parameters<typeof describeText>[0];
  const out = describeText(doc, undefined, { now, width: 80, style: plain });
  t.ok(out.split('\n').every((l) => displayWidth(l) <= 80), `fits 80 columns:\n${out}`);
  const text = Array.from({ length: 12 }, () => '日本語').join(' ');
  t.ok(wrap(text, 20).split('\n').every((l) => displayWidth(l) <= 20), wrap(text, 20));
});
