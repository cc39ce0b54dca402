/**
 * Mistakes sagactl catches itself, before it asks the server anything: a bad `--reason`, an
 * option that would be silently ignored, a definitions file with no saga to test. And the
 * commands it suggests read where the instance is: an archived one is read with --archive.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import t from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { reasonSchema } from '../../engine/api/routes-actions.js';
import { ArchiveWriter } from '../../engine/archive/writer.js';
import { openStore } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { reason } from '../../cli/options.js';
import { StoreEngine } from '../api/store-engine.js';
import { Fixture, fillScenarios, root } from './fixture.js';
import { cli } from './helpers.js';
import { closedPort } from './processes.js';

/** Nothing listens there: a command that got as far as the server would fail with exit 1, not 2. */
const nowhere = `http://127.0.0.1:${await closedPort()}`;

const badReasons: readonly [string, string, RegExp][] = [
  ['empty', '', /a reason says why in a few words/],
  ['blank', '   ', /a reason says why in a few words/],
  ['a tab', 'two\tcolumns', /a reason is one line of printable text/],
  ['a newline', 'line 1\nline 2', /a reason is one line of printable text/],
  ['an escape sequence', 'ok \u001b[8mhidden', /a reason is one line of printable text/],
  ['1001 characters', 'x'.repeat(1001), /a reason has at most 1000 characters \(this one has 1001\)/],
];

const withReason: readonly (readonly string[])[] = [
  ['cancel', 'some-id'], ['cancel', '--saga', 'order-fulfillment', '--yes'], ['retry', 'some-id'], ['retry', '--saga', 'order-fulfillment', '--yes'],
  ['dlq', 'purge', '12'], ['dlq', 'redrive', '12'], ['defs', 'reload'],
];

t.test('a bad --reason is a usage error, in a sentence, before the server is asked, for every command that takes one', async (t) => {
  for (const args of withReason) {
    for (const [what, bad, sentence] of badReasons) {
      const r = await cli([...args, '--reason', bad, '--server', nowhere], { answers: ['y'] });
      const label = `${args.join(' ')} --reason with ${what}`;
      t.equal(r.code, 2, `${label}: exit 2`);
      t.match(r.err, sentence, `${label}: says what a reason must be`);
      t.notMatch(r.err, /cannot reach|must match pattern|\^\[/, `${label}: the server was not asked`);
      t.strictSame(r.asked, [], `${label}: nothing asked`);
    }
    // A good one gets as far as the server (which is not there).
    const good = await cli([...args, '--reason', `fixed — naïve ✓ ${'x'.repeat(980)}`, '--server', nowhere]);
    t.equal(good.code, 1, `${args.join(' ')}: a good reason of 1000 characters reaches the server`);
    t.match(good.err, /cannot reach sagad/);
  }
});

t.test('the --reason check agrees with the server\'s schema', async (t) => {
  const server = new Ajv().compile(reasonSchema);
  const ok = (v: string) => {
    try {
      return reason(v) === v;
    } catch {
      return false;
    }
  };
  const samples = ['customer called', 'x'.repeat(1000), 'x'.repeat(1001), '🙂'.repeat(1000), 'é'.repeat(1001), 'a\tb', 'a\rb', 'a\u007fb', 'a\u0000b', 'naïve – “quoted”', 'a\u0085b'];
  for (const s of samples) t.equal(ok(s), server(s), `${JSON.stringify(s.slice(0, 16))} (${[...s].length} characters): the same verdict`);
  t.notOk(ok(''), 'an empty reason is refused here, though the server takes it as none');
});

t.test('stats --since without --times is a usage error, not all-time counts', async (t) => {
  const r = await cli(['stats', '--since', '1h', '--server', nowhere]);
  t.equal(r.code, 2);
  t.equal(r.out, '');
  t.match(r.err, /^sagactl: --since needs --times: it sets the window of the saga times/);
  t.match(r.err, /\nHint: `sagactl stats --times --since 1h` gives the saga times of the last hour; leave --since out for the counts\n$/);
});

t.test('defs show --file with --hash is a usage error, not a silently ignored hash', async (t) => {
  const file = join(root, 'sagas/order-fulfillment.yaml');
  const r = await cli(['defs', 'show', 'order-fulfillment', '--file', file, '--hash', 'deadbeef']);
  t.equal(r.code, 2);
  t.equal(r.out, '');
  t.match(r.err, /--hash picks a version the server keeps, and a file has one version of each saga: give --hash or --file, not both/);
  const alone = await cli(['defs', 'show', 'order-fulfillment', '--file', file]);
  t.equal(alone.code, 0, alone.err);
});

t.test('defs show --hash that is no hash (or its start) is a usage error', async (t) => {
  for (const bad of ['3f2a9c', 'not-a-hash', '3F2A9C1B7E4D']) {
    const r = await cli(['defs', 'show', 'order-fulfillment', '--hash', bad, '--server', 'http://127.0.0.1:1']);
    t.equal(r.code, 2, bad);
    t.match(r.err, `sagactl: --hash "${bad}" is not a hash: give the hash, or its first 8 or more characters (0-9, a-f)`);
  }
});

t.test('retry and cancel with --saga take only the state their act can succeed on', async (t) => {
  for (const [verb, allowed, extra] of [['retry', 'failed', []], ['cancel', 'running', ['--reason', 'r']]] as const) {
    const r = await cli([verb, '--saga', 'order-fulfillment', '--state', 'completed', ...extra, '--yes', '--server', 'http://127.0.0.1:1']);
    t.equal(r.code, 2, `${verb}: a usage error, before anything is listed`);
    t.equal(r.out, '');
    t.match(r.err, `option '--state <state>' argument 'completed' is invalid. Allowed choices are ${allowed}.`);
  }
});

t.test('admin rebuild with an ID and --all says both were given', async (t) => {
  const both = await cli(['admin', 'rebuild', 'some id', '--all', '--server', 'http://127.0.0.1:1']);
  t.equal(both.code, 2);
  t.equal(both.err, "sagactl: give an instance ID or --all, not both\nHint: sagactl admin rebuild 'some id', or sagactl admin rebuild --all\n");
  const neither = await cli(['admin', 'rebuild', '--server', 'http://127.0.0.1:1']);
  t.equal(neither.code, 2);
  t.equal(neither.err, 'sagactl: name one instance, or pass --all\nHint: sagactl admin rebuild ID, or sagactl admin rebuild --all\n');
});

t.test('sagactl test on a file with no saga fails and says so', async (t) => {
  const dir = t.testdir();
  for (const [what, text] of [['an empty file', ''], ['sagas: []', 'version: 1\nsagas: []\n']] as const) {
    const file = join(dir, `${what.replace(/\W/g, '')}.yaml`);
    writeFileSync(file, text);
    for (const output of ['table', 'json']) {
      const r = await cli(['test', file, '-o', output]);
      t.equal(r.code, 1, `${what}, -o ${output}: exit 1`);
      t.match(r.err, /defines no saga, so there is nothing to run/, `${what}: says why`);
      t.notMatch(r.out, /PASS/, `${what}: no PASS`);
    }
  }
});

/** A database with every scenario, whose finished instances are then archived and deleted. */
async function archived(dir: string) {
  const file = join(dir, 'sagad.db');
  const archiveDir = join(dir, 'archive');
  const f = new Fixture(file);
  fillScenarios(f);
  const now = f.now;
  const writer = new ArchiveWriter({
    dir: archiveDir,
    definition: async (hash) => {
      const source = f.store.getDefinitionSource(hash);
      const name = f.store.listDefinitions().find((d) => d.hash === hash)?.name;
      return source === undefined || name === undefined ? undefined : { name, source };
    },
  });
  const port = sqlitePort(f.store);
  await port.retire(now - 60_000, 100, async (b) => {
    await writer.append(b);
  });
  await writer.close();
  await port.close();
  return { file, archiveDir, now };
}

t.test('why --archive suggests commands that read the archive too', async (t) => {
  const { archiveDir, now } = await archived(t.testdir());
  const r = await cli(['why', 'ord-compensated', '--archive', archiveDir], { now, columns: 400 });
  t.equal(r.code, 0, r.err);
  t.match(r.out, `\`sagactl history ord-compensated --archive ${archiveDir}\` shows how it went`);
  const facts = JSON.parse((await cli(['why', 'ord-compensated', '--archive', archiveDir, '-o', 'json'], { now })).out) as { actions: string[] };
  t.strictSame(facts.actions, [`sagactl history ord-compensated --archive ${archiveDir}`]);
  const spaced = join(t.testdir(), 'my archive');
  const moved = await archived(spaced);
  const quoted = await cli(['why', 'ord-compensated', '--archive', moved.archiveDir, '-o', 'json'], { now: moved.now });
  t.strictSame((JSON.parse(quoted.out) as { actions: string[] }).actions, [`sagactl history ord-compensated --archive '${moved.archiveDir}'`], 'quoted for the shell');
  const live = JSON.parse((await cli(['why', 'ord-stuck', '--db', join(spaced, 'sagad.db'), '-o', 'json'], { now: moved.now })).out) as { actions: string[] };
  t.strictSame(live.actions, ['sagactl retry ord-stuck'], 'an instance read elsewhere: the commands as before');
});

t.test('no such instance: the hint says how to read one that retention archived', async (t) => {
  const { file, now } = await archived(t.testdir());
  for (const command of ['describe', 'history', 'why']) {
    const r = await cli([command, 'ord-completed', '--db', file], { now });
    t.equal(r.code, 1);
    t.match(r.err, `If retention archived it: \`sagactl describe ord-completed --archive ${join(file, '..', 'archive')}\` (or the server's SAGA_ARCHIVE_DIR, if it sets one)`, `${command} --db`);
  }
  const store = openStore(':memory:');
  const app = buildApi(new StoreEngine(store));
  const server = await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  for (const command of ['describe', 'history', 'why']) {
    const r = await cli([command, 'ord-completed', '--server', server]);
    t.equal(r.code, 1);
    t.match(r.err, /If retention archived it: `sagactl describe ord-completed --archive DIR`, DIR being the server's SAGA_ARCHIVE_DIR/, `${command} on the server`);
  }
});
