import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';
import { SagadExitedError, startSagad } from '../helpers/sagad.js';
import { FIXTURES, fixtureVariant } from './harness.js';

/** sagad refuses to start on an invalid definitions file, naming the file and the line. */

// Definitions are checked before sagad connects, so no nats-server is needed: nothing listens here.
const NO_NATS = 'nats://127.0.0.1:1';

async function refusal(definitions: string): Promise<SagadExitedError> {
  try {
    const sagad = await startSagad({ natsUrl: NO_NATS, dbFile: join(dirname(definitions), 'sagad.db'), definitions, readyTimeoutMs: 60_000 });
    await sagad.kill9();
  } catch (err) {
    if (err instanceof SagadExitedError) return err;
    throw err;
  }
  throw new Error('sagad started on invalid definitions');
}

t.test('a bad duration and a reference to a missing step: exit 1, each problem at its file and line', async (t) => {
  const file = join(t.testdir(), 'broken.yaml');
  writeFileSync(file, [
    'version: 1',
    'sagas:',
    '  - name: broken',
    '    timeout: soon',
    '    steps:',
    '      - name: a',
    '        command: { subject: a.commands, type: DoA, payload: { x: "{% $steps.`nope`.id %}" } }',
    '        reply: { subject: a.events, success: [ADone] }',
    '        timeout: 1s',
    '        compensate:',
    '          command: { subject: a.commands, type: UndoA }',
    '          reply: { subject: a.events, success: [AUndone] }',
    '',
  ].join('\n'));
  const err = await refusal(file);
  t.equal(err.code, 1, 'exit code 1');
  const stderr = err.stderr.join('\n');
  t.match(stderr, `${file}:4:`, 'the bad duration, at line 4', { stderr });
  t.match(stderr, /not a duration/);
  t.match(stderr, /refusing to start/);

  writeFileSync(file, readFileSync(file, 'utf8').replace('timeout: soon', 'timeout: 1m'));
  const second = await refusal(file);
  t.equal(second.code, 1);
  t.match(second.stderr.join('\n'), `${file}:7:`, 'the missing step, at line 7', { stderr: second.stderr });
  t.match(second.stderr.join('\n'), /`nope`/);
});

t.test('a pivot that may give up is refused: steps from the pivot on retry until they succeed', async (t) => {
  const file = fixtureVariant(t.testdir(), 'finite-pivot.yaml', [
    ['        timeout: 1s\n        retry: { maxAttempts: unlimited,', '        timeout: 1s\n        retry: { maxAttempts: 3,'],
  ]);
  const lines = readFileSync(file, 'utf8').split('\n');
  const line = lines.findIndex((l, i) => i > lines.findIndex((x) => x.includes('name: ship-order')) && l.includes('maxAttempts: 3,')) + 1;
  const err = await refusal(file);
  t.equal(err.code, 1);
  t.match(err.stderr.join('\n'), `${file}:${line}:`, `the line of maxAttempts (${line})`, { stderr: err.stderr });
  t.match(err.stderr.join('\n'), /ship-order/);
});

t.test('an error in an included file names that file', async (t) => {
  const dir = t.testdir();
  copyFileSync(join(FIXTURES, 'order.yaml'), join(dir, 'order.yaml'));
  writeFileSync(join(dir, 'main.yaml'), 'version: 1\ninclude: [order.yaml, extra.yaml]\n');
  writeFileSync(join(dir, 'extra.yaml'), 'version: 1\nsagas:\n  - name: extra\n    steps: []\n    surprise: true\n');
  const err = await refusal(join(dir, 'main.yaml'));
  t.equal(err.code, 1);
  t.match(err.stderr.join('\n'), /extra\.yaml:\d+:\d+: /, 'the included file and a line', { stderr: err.stderr });
});

t.test('a missing definitions file: exit 1 with a sentence naming it', async (t) => {
  const file = join(t.testdir(), 'absent.yaml');
  const err = await refusal(file);
  t.equal(err.code, 1);
  t.match(err.stderr.join('\n'), file);
  t.match(err.stderr.join('\n'), /cannot read the definitions file/);
});
