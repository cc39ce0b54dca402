/**
 * Hot reload of the definitions file with a real nats-server: an invalid file is refused with
 * every error and changes nothing; a valid one adds, changes and removes sagas, new subjects
 * are consumed, a removed saga starts nothing new, and running instances finish on the
 * definition they started with. Then sagad as a process: `sagactl defs diff` against the
 * server, `sagactl defs reload`, and SIGHUP, each logged with who asked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../engine/config.js';
import { formatDefinitionError, loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { startSagad as startInProcess } from '../../engine/main.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startSagad, waitFor } from '../helpers/sagad.js';
import { cli } from '../cli/helpers.js';
import { publishBegin, startParticipant, type SeenCommand } from '../tracing/world.js';
import { sagaYaml, writeDefinitions } from './defs.js';

interface Json { status: number; body: Record<string, unknown> }

async function call(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Json> {
  const res = await fetch(`${url}${path}`, {
    method, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const sagaOf = (c: SeenCommand) => c.headers['Saga-Id'];

t.test('reload in a running sagad: refused, then added, changed and removed sagas', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  // Do_a2 of the first alpha and Do_l1 are held until the test answers them: those instances are running through the reload.
  const held = (c: SeenCommand) => (c.envelope.eventType === 'Do_a2' && c.envelope.payload.order === 'a-old') || c.envelope.eventType === 'Do_l1';
  const participant = await startParticipant(nats.url, (c) => (held(c) ? null : { type: c.envelope.eventType.replace('Do_', 'Done_') }), undefined, ['al', 'lg', 'nw']);
  t.teardown(() => participant.stop());
  const v1 = [sagaYaml('alpha', 'al', ['a1', 'a2']), sagaYaml('legacy', 'lg', ['l1'])];
  const file = writeDefinitions(dir, 'sagas.yaml', v1);
  const defs = loadDefinitionsFile(file);
  if (!defs.ok) throw new Error('v1 invalid');
  const config = loadConfig({ SAGA_DEFINITIONS: file, SAGA_DB: join(dir, 'sagad.db'), NATS_URL: nats.url, SAGA_HTTP_PORT: '0' });
  const server = await startInProcess(config, defs.sagas, silentLog);
  t.teardown(() => server.stop());
  const url = server.httpUrl;
  const hashOf = async (name: string) => ((await call(url, 'GET', `/v1/definitions/${name}`)).body.hash as string);
  const alphaV1 = await hashOf('alpha');

  await publishBegin(participant.link, 'a-old', {}, 'al');
  await publishBegin(participant.link, 'l-old', {}, 'lg');
  const heldA = await waitFor(() => participant.seen.find((c) => c.envelope.eventType === 'Do_a2'), 20_000, { what: 'alpha waiting at a2' });
  const heldL = await waitFor(() => participant.seen.find((c) => c.envelope.eventType === 'Do_l1'), 20_000, { what: 'legacy waiting at l1' });

  t.test('an invalid file is refused with every error, as at startup, and the loaded definitions stay', async (t) => {
    const bad = writeDefinitions(dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1']), sagaYaml('alpha', 'al', ['a1']), sagaYaml('Bad_Name', 'bd', ['b1'])]);
    const expected = (() => {
      const r = loadDefinitionsFile(bad);
      return r.ok ? [] : r.errors.map(formatDefinitionError);
    })();
    const r = await call(url, 'POST', '/v1/definitions/reload');
    t.equal(r.status, 422);
    t.equal(r.body.code, 'SAGA_ERR_RELOAD_REFUSED');
    t.ok(expected.length >= 2, 'the file has several problems');
    t.same(r.body.errors, expected, 'every error, in the startup format (file:line:column)');
    t.equal(await hashOf('alpha'), alphaV1, 'alpha is still the loaded version');
    t.equal((await call(url, 'GET', '/v1/definitions/legacy')).status, 200, 'legacy is still loaded');
  });

  t.test('a valid file: added, changed and removed are returned; new subjects consumed', async (t) => {
    writeDefinitions(dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1', 'a2', 'a3']), sagaYaml('newbie', 'nw', ['n1'])]);
    const r = await call(url, 'POST', '/v1/definitions/reload');
    t.equal(r.status, 200);
    const alphaV2 = await hashOf('alpha');
    t.not(alphaV2, alphaV1);
    t.match(r.body, {
      added: [{ name: 'newbie' }], removed: [{ name: 'legacy' }], changed: [{ name: 'alpha', oldHash: alphaV1, newHash: alphaV2 }], unchanged: [],
    });
    t.same(r.body.subjects, ['nw.events', 'nw.replies'], 'the new saga\'s subjects are consumed');

    const started = await call(url, 'POST', '/v1/sagas/newbie/instances', { input: { order: 'n-1' } });
    t.equal(started.status, 201, 'the new saga starts at once');
    const newbie = started.body.id as string;
    await waitFor(async () => (await server.engine.getInstance(newbie))?.status === 'completed', 20_000, { what: 'newbie completed (its replies consumed)' });

    const refused = await call(url, 'POST', '/v1/sagas/legacy/instances', { input: { order: 'l-new' } });
    t.equal(refused.status, 404, 'a removed saga starts no new instance');
    t.equal(refused.body.code, 'SAGA_ERR_UNKNOWN_SAGA');
    const unrelated = async () => Number(/sagad_messages_total\{outcome="unrelated"\} (\d+)/.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);
    const before = await unrelated();
    await publishBegin(participant.link, 'l-new', {}, 'lg');
    await waitFor(async () => (await unrelated()) > before, 20_000, { what: 'the removed saga\'s trigger counted as unrelated' });
    t.equal((await server.engine.listInstances({ saga: 'legacy', limit: 10 })).items.length, 1, 'its trigger started nothing');

    await publishBegin(participant.link, 'a-new', {}, 'al');
    await participant.answer(heldA, 'Done_a2');
    await participant.answer(heldL, 'Done_l1');
    const oldA = sagaOf(heldA) ?? '';
    const oldL = sagaOf(heldL) ?? '';
    await waitFor(async () => (await server.engine.getInstance(oldA))?.status === 'completed', 20_000, { what: 'the old alpha completed' });
    await waitFor(async () => (await server.engine.getInstance(oldL))?.status === 'completed', 20_000, { what: 'the removed saga\'s instance completed' });
    const newA = await waitFor(async () => (await server.engine.listInstances({ saga: 'alpha', key: 'a-new', limit: 1 })).items[0], 20_000, { what: 'the new alpha' });
    await waitFor(async () => (await server.engine.getInstance(newA.id))?.status === 'completed', 20_000, { what: 'the new alpha completed' });
    t.equal((await server.engine.getInstance(oldA))?.definitionHash, alphaV1, 'the instance started before the reload kept its definition');
    t.notOk(participant.seen.some((c) => c.envelope.eventType === 'Do_a3' && sagaOf(c) === oldA), 'and never ran the step the new version added');
    t.equal((await server.engine.getInstance(newA.id))?.definitionHash, alphaV2, 'an instance started after it runs the new one');
    t.ok(participant.seen.some((c) => c.envelope.eventType === 'Do_a3' && sagaOf(c) === newA.id), 'with its new step');
  });
});

t.test('sagad as a process: defs diff against the server, defs reload, SIGHUP; logged with who asked', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const file = writeDefinitions(dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1'])]);
  const token = 'reload-secret-token';
  const sagad = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'sagad.db'), definitions: file, env: { SAGA_API_TOKEN: token, SAGA_API_READ_TOKEN: 'reader-token' } });
  t.teardown(() => sagad.stop());
  const args = ['--server', sagad.url, '--token', token];
  t.equal((await call(sagad.url, 'POST', '/v1/definitions/reload')).status, 401, 'a reload needs a token');
  t.equal((await call(sagad.url, 'POST', '/v1/definitions/reload', undefined, { authorization: 'Bearer reader-token' })).status, 403, 'and not the read-only one');
  t.equal((await call(sagad.url, 'GET', '/v1/definition-sources', undefined, { authorization: 'Bearer reader-token' })).status, 200, 'which may read the sources');

  writeDefinitions(dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1', 'a2']), sagaYaml('beta', 'bt', ['b1'])]);
  const diff = await cli(['defs', 'diff', ...args, file]);
  t.equal(diff.code, 0, diff.err);
  t.match(diff.out, /saga alpha: changed[\s\S]*step a2: added/, 'running vs the file: alpha gains a2');
  t.match(diff.out, /saga beta: added/);
  const diffJson = await cli(['defs', 'diff', ...args, '-o', 'json', file]);
  t.same((JSON.parse(diffJson.out) as { sagas: { saga: string; change: string }[] }).sagas.map((s) => [s.saga, s.change]), [['alpha', 'changed'], ['beta', 'added']]);

  const reload = await cli(['defs', 'reload', ...args, '--reason', 'beta goes live']);
  t.equal(reload.code, 0, reload.err);
  t.match(reload.out, /added {5}beta/);
  t.match(reload.out, /changed {3}alpha/);
  t.match(reload.out, /consuming bt\.events, bt\.replies \(new\)/);
  const logged = await waitFor(() => sagad.logs().find((l) => l.includes('"definitions reloaded"')), 10_000, { what: 'the reload in the log' });
  t.match(JSON.parse(logged), { via: 'http', added: ['beta'], changed: ['alpha'], by: 'admin', reason: 'beta goes live' }, 'logged with the token\'s name and the reason, as operator actions are');
  t.match(logged, /"token":"sha256:[0-9a-f]{12}"/, 'the token is named by its fingerprint');
  t.notOk(sagad.logs().some((l) => l.includes(token)), 'never by itself');
  const again = await cli(['defs', 'diff', ...args, file]);
  t.match(again.out, /No differences\.[\s\S]*unchanged: alpha, beta/, 'after the reload the server runs the file');

  writeDefinitions(dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1', 'a2']), sagaYaml('alpha', 'al', ['a1'])]);
  const refused = await cli(['defs', 'reload', ...args]);
  t.equal(refused.code, 1);
  t.match(refused.err, /sagas\.yaml:\d+:\d+: [\s\S]*refused the reload/, 'each error, then the sentence');

  writeDefinitions(dir, 'sagas.yaml', [sagaYaml('beta', 'bt', ['b1'])]);
  process.kill(sagad.pid, 'SIGHUP');
  const hup = await waitFor(() => sagad.logs().find((l) => l.includes('"definitions reloaded"') && l.includes('"SIGHUP"')), 10_000, { what: 'the SIGHUP reload in the log' });
  t.match(JSON.parse(hup), { via: 'SIGHUP', removed: ['alpha'], unchanged: 1 });
  const list = await cli(['defs', 'list', ...args, '-o', 'json']);
  t.same((JSON.parse(list.out) as { items: { name: string }[] }).items.map((d) => d.name), ['beta'], 'the server now runs only beta');
  t.equal(readFileSync(file, 'utf8').includes('alpha'), false);
  t.equal(await sagad.stop(), 0, 'and still drains cleanly');
});
