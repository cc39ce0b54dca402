/** Subjects NATS cannot use, or that sagad would use wrongly, are refused at load time with a plain sentence. */
import t from 'tap';
import { loadDefinitionsText } from '../../engine/definitions/index.js';
import { positionOf } from './fixtures/saga-yaml.js';

/** A saga with every kind of subject: a trigger, a command and its reply, a compensation and its reply, a wait. */
function defs(s: { trigger?: string; command?: string; reply?: string; undo?: string; undoReply?: string; wait?: string }): string {
  return [
    'sagas:',
    '  - name: s',
    '    defaults: { timeout: 10s }',
    `    start: { on: { subject: "${s.trigger ?? 'orders.events'}", type: OrderPlaced } }`,
    '    steps:',
    '      - name: a',
    `        command: { subject: "${s.command ?? 'inventory.commands'}", type: Reserve }`,
    `        reply: { subject: "${s.reply ?? 'inventory.events'}", success: [Reserved] }`,
    '        compensate:',
    `          command: { subject: "${s.undo ?? 'inventory.commands'}", type: Release }`,
    `          reply: { subject: "${s.undoReply ?? 'inventory.events'}", success: [Released] }`,
    '      - name: w',
    `        wait: { subject: "${s.wait ?? 'payments.events'}", type: Paid }`,
    '        timeout: 1m',
    '',
  ].join('\n');
}

function errors(text: string) {
  const r = loadDefinitionsText(text, 'defs.yaml');
  return r.ok ? [] : r.errors;
}

t.test('plain subjects, and wildcards in reply subjects, load', async (t) => {
  for (const reply of ['inventory.events', 'inventory.*', 'inventory.*.events', 'inventory.>', 'orders.$x']) {
    const r = loadDefinitionsText(defs({ reply, undoReply: reply }), 'defs.yaml');
    t.equal(r.ok, true, `${reply}: ${r.ok ? '' : JSON.stringify(r.errors)}`);
  }
});

t.test('a command or compensation subject with a wildcard is refused where it is written', async (t) => {
  for (const [field, subject] of [['command', 'inventory.>'], ['command', 'inventory.*'], ['undo', 'inventory.*.x'], ['undo', 'inv>']] as const) {
    const text = defs({ [field]: subject });
    const [e, ...more] = errors(text);
    t.equal(more.length, 0, `${subject}: one error`);
    t.match(e, {
      file: 'defs.yaml', ...positionOf(text, `"${subject}"`),
      path: field === 'command' ? 'sagas[0].steps[0].command.subject' : 'sagas[0].steps[0].compensate.command.subject',
      message: `\`${subject}\` has a wildcard, but a command goes to one subject`,
      hint: /^write the exact subject the participant listens on/,
    }, `${field} ${subject}`);
  }
});

t.test('a reply subject may use * only as a whole token and > only as the last one', async (t) => {
  for (const subject of ['a.>.b', '>.b', 'a.b*', 'a.*x.c', 'a.>x', '>', '*.events']) {
    const text = defs({ reply: subject });
    const found = errors(text);
    t.equal(found.length, 1, subject);
    t.match(found, [{
      ...positionOf(text, `"${subject}"`), path: 'sagas[0].steps[0].reply.subject',
      message: `\`${subject}\` is not a NATS subject to subscribe to`,
      hint: /\* stands for a whole token and > only for the last one/,
    }], subject);
  }
});

t.test('no subject may start with $, which NATS keeps for its own APIs', async (t) => {
  const cases = [
    ['command', '$JS.API.STREAM.DELETE.ORDERS', 'sagas[0].steps[0].command.subject'],
    ['undo', '$SYS.REQ.SERVER.PING', 'sagas[0].steps[0].compensate.command.subject'],
    ['reply', '$JS.EVENT.>', 'sagas[0].steps[0].reply.subject'],
    ['trigger', '$KV.orders.x', 'sagas[0].start.on.subject'],
    ['wait', '$SYS.x', 'sagas[0].steps[1].wait.subject'],
  ] as const;
  for (const [field, subject, path] of cases) {
    const text = defs({ [field]: subject });
    t.match(errors(text), [{ ...positionOf(text, `"${subject}"`), path, message: `\`${subject}\` starts with \`$\`, which NATS keeps for its own subjects ($JS, $SYS)`, hint: /^use a subject of your own/ }], field);
  }
});

t.test('trigger and wait subjects are matched exactly, so a wildcard in them is refused', async (t) => {
  for (const [field, subject, path] of [['trigger', 'orders.*', 'sagas[0].start.on.subject'], ['wait', 'payments.>', 'sagas[0].steps[1].wait.subject']] as const) {
    const text = defs({ [field]: subject });
    t.match(errors(text), [{ path, message: `\`${subject}\` has a wildcard, but sagad matches trigger and wait events by their exact subject`, hint: /^write the exact subject the events are published on/ }], field);
  }
});

t.test('a malformed subject still says so', async (t) => {
  t.match(errors(defs({ command: 'a..b' })), [{ message: '`a..b` is not a NATS subject', hint: 'write dot-separated tokens without spaces, like orders.events' }]);
  t.match(errors(defs({ reply: 'a b' })), [{ message: '`a b` is not a NATS subject' }]);
});

t.test('the reviewer\'s file: every bad subject at its line, with what to do', async (t) => {
  const text = [
    'version: 1',
    'sagas:',
    '  - name: s1',
    '    defaults: { timeout: 5s }',
    '    steps:',
    '      - name: p',
    '        pivot: true',
    '        command: { subject: "inventory.>", type: A }',
    '        reply: { subject: "a.>.b", success: [POk] }',
    '      - name: q',
    '        command: { subject: "$JS.API.STREAM.DELETE.ORDERS", type: A }',
    '        reply: { subject: "sagas.events", success: [SagaCompleted] }',
    '',
  ].join('\n');
  t.match(errors(text), [
    { line: 8, path: 'sagas[0].steps[0].command.subject', message: /has a wildcard/ },
    { line: 9, path: 'sagas[0].steps[0].reply.subject', message: /not a NATS subject to subscribe to/ },
    { line: 11, path: 'sagas[0].steps[1].command.subject', message: /starts with `\$`/ },
  ]);
  t.equal(errors(text).length, 3);
});
