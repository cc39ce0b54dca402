import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { FAULT_POINTS, parseFault } from '../../engine/fault.js';
import { SagadExitedError, startSagad } from '../helpers/sagad.js';
import { FAULT_GROUPS } from './fault-walk.js';

const DOC = fileURLToPath(new URL('../../docs/fault-injection.md', import.meta.url));
const FAULT_JS = fileURLToPath(new URL('../../dist/engine/fault.js', import.meta.url));

t.test('every fault point is walked by exactly one crash test and documented', async (t) => {
  const walked = Object.values(FAULT_GROUPS).flatMap((g) => g.map(([p]) => p)).sort();
  t.same(walked, Object.keys(FAULT_POINTS).sort());
  const doc = readFileSync(DOC, 'utf8');
  t.same(Object.keys(FAULT_POINTS).filter((p) => !doc.includes(`| \`${p}\` |`)), [], 'docs/fault-injection.md has a row for each');
});

t.test('SAGA_FAULT names a point and a pass', async (t) => {
  t.equal(parseFault(undefined), null, 'unset: off');
  t.equal(parseFault(''), null, 'empty: off');
  t.same(parseFault('after-commit-before-ack:3'), { point: 'after-commit-before-ack', pass: 3 });
  t.same(parseFault('mid-group-commit'), { point: 'mid-group-commit', pass: 1 }, 'without a pass: the first');
  t.match(parseFault('after-commit:3'), { problem: /SAGA_FAULT="after-commit:3": must be <point>\[:<n>\] with a point among after-commit-before-ack, / });
  t.match(parseFault('mid-group-commit:0'), { problem: /must be/ }, 'passes count from 1');
});

/** Runs the built module in a process of its own that passes `at` three times. */
const passThrice = (env: string | undefined, at: string) => spawnSync(process.execPath, ['--input-type=module', '-e',
  `const { fault } = await import(${JSON.stringify(FAULT_JS)}); for (let i = 1; i <= 3; i++) { process.stdout.write(i + ' '); fault(${JSON.stringify(at)}); }`,
], { env: { PATH: process.env.PATH, ...(env === undefined ? {} : { SAGA_FAULT: env }) }, encoding: 'utf8' });

t.test('the process kills itself with SIGKILL on the chosen pass of the named point, and only there', async (t) => {
  const killed = passThrice('mid-group-commit:2', 'mid-group-commit');
  t.equal(killed.signal, 'SIGKILL', 'killed by SIGKILL');
  t.equal(killed.stdout, '1 2 ', 'on the second pass, before the third');
  t.match(JSON.parse(killed.stderr), { msg: 'fault point reached; killing the process', point: 'mid-group-commit', pass: 2 });
  const other = passThrice('mid-group-commit:2', 'after-commit-before-ack');
  t.match([other.status, other.signal, other.stdout], [0, null, '1 2 3 '], 'another point passes untouched');
  const unset = passThrice(undefined, 'mid-group-commit');
  t.match([unset.status, unset.signal, unset.stdout], [0, null, '1 2 3 '], 'unset: nothing happens');
});

t.test('sagad refuses to start on a SAGA_FAULT it does not understand', async (t) => {
  const dir = t.testdir();
  const err = await startSagad({ natsUrl: 'nats://127.0.0.1:1', dbFile: join(dir, 'x.db'), env: { SAGA_FAULT: 'after-comit-before-ack:2' } }).catch((e: unknown) => e);
  t.type(err, SagadExitedError);
  t.match(err, { code: 1 }, 'exit code 1');
  const said = err instanceof SagadExitedError ? err.stderr.map((l) => (JSON.parse(l) as { msg: string }).msg) : [];
  t.match(said, [/^sagad could not start: SAGA_FAULT="after-comit-before-ack:2": must be <point>\[:<n>\] with a point among /], 'saying why');
});
