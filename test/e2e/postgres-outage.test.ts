import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { startPostgres } from '../helpers/postgres.js';
import { SAGAD_MAIN, SagadExitedError, startSagad, waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { pool } from './harness.js';
import { checkAll, listed } from './load-check.js';
import { startReplicaWorld } from './replica-world.js';

/**
 * PostgreSQL faults (issue 9): a wrong password stops sagad with one sentence; a database
 * down at start is retried until it answers; one lost while running turns /readyz false,
 * loses nothing, and the work resumes when it returns.
 */
t.setTimeout(300_000);

t.test('a wrong password: one clear sentence without the password, exit code 1', async (t) => {
  const pg = await startPostgres();
  t.teardown(() => pg.stop());
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  await pg.createDatabase('wrongpw');
  const url = pg.urlOf('wrongpw', { user: pg.user, password: 'not-the-password' });
  const err = await startSagad({ natsUrl: nats.url, dbFile: url }).then((s) => { void s.kill9(); return null; }, (e: unknown) => e);
  t.ok(err instanceof SagadExitedError, 'sagad exited before it was ready');
  if (!(err instanceof SagadExitedError)) return;
  t.equal(err.code, 1);
  const said = err.stderr.join('\n');
  t.match(said, /could not start: PostgreSQL at [^ ]+@127\.0\.0\.1:\d+\/wrongpw: .*password/i, 'it names the database and the cause');
  t.notMatch(said, /not-the-password/, 'the password is not printed');
  t.notMatch(said, new RegExp(pg.password), 'nor any other');
});

t.test('no password where the server asks for one: one sentence, exit code 1, not a hang', async (t) => {
  const pg = await startPostgres();
  t.teardown(() => pg.stop());
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const url = `postgresql://${pg.user}@127.0.0.1:${pg.port}/postgres`;
  // The driver keeps its socket open after this refusal: sagad must exit all the same.
  const err = await startSagad({ natsUrl: nats.url, dbFile: url }).then((s) => { void s.kill9(); return null; }, (e: unknown) => e);
  t.ok(err instanceof SagadExitedError, 'sagad exited before it was ready');
  if (!(err instanceof SagadExitedError)) return;
  t.equal(err.code, 1);
  t.match(err.stderr.join('\n'), /could not start: PostgreSQL at [^ ]+@127\.0\.0\.1:\d+\/postgres: the server asks for a password and none was given; put it in the URL/);
});

t.test('PostgreSQL down at start: retried with backoff, saying why; ready once it answers', async (t) => {
  const pg = await startPostgres();
  t.teardown(() => pg.stop());
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const db = await pg.createDatabase('late');
  pg.kill9();
  const env: NodeJS.ProcessEnv = {
    ...process.env, NATS_URL: nats.url, SAGA_DB: db, SAGA_HTTP_PORT: '0', SAGA_HTTP_HOST: '127.0.0.1',
    SAGA_DEFINITIONS: new URL('../../saga-definitions.yaml', import.meta.url).pathname,
  };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [SAGAD_MAIN], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  createInterface({ input: child.stderr }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) if (w.re.test(l)) w.resolve(); else waiters.push(w);
  });
  const logged = (re: RegExp) => new Promise<void>((resolve) => {
    if (lines.some((l) => re.test(l))) resolve(); else waiters.push({ re, resolve });
  });
  await logged(/the store is unavailable; not ready, retrying in/);
  await logged(/"attempt":2/);
  t.pass('it retried, saying the store is unavailable');
  // Its port answers meanwhile: alive for a liveness probe, not ready, saying why.
  const port = (JSON.parse(lines.find((l) => l.includes('answers health probes while sagad starts')) ?? '{}') as { port?: number }).port;
  const base = `http://127.0.0.1:${String(port)}`;
  const health = await fetch(`${base}/healthz`);
  t.same([health.status, await health.json()], [200, { status: 'starting' }], '/healthz: alive');
  const ready = await fetch(`${base}/readyz`);
  t.equal(ready.status, 503);
  t.match(await ready.json(), { ready: false, checks: { starting: { ok: false, detail: /^sagad is starting: waiting for the store: PostgreSQL at .* is unavailable .*\(attempt \d+, next in [\d.]+ s\)$/ } } }, '/readyz: not ready, and why');
  const list = await fetch(`${base}/v1/instances`);
  t.match([list.status, await list.json()], [503, { code: 'SAGA_ERR_NOT_READY', message: /^sagad is starting: waiting for the store/ }], 'any other route: not ready');
  await pg.restart();
  await logged(/"msg":"sagad ready"/);
  t.pass('ready once PostgreSQL answered');
  const after = await fetch(`${base}/readyz`);
  t.equal(after.status, 200, 'the API answers on the same port once started');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'and it drains on SIGTERM');
});

t.test('PostgreSQL lost while running: not ready, nothing lost, work resumes when it returns', async (t) => {
  const w = await startReplicaWorld(t, 1);
  const ids = Array.from({ length: 60 }, (_, i) => `out-${i}`);
  const before = ids.slice(0, 30);
  await pool(before, 4, async (id, i) => {
    const r = await w.api.start(order(`o-out-${i}`), { id });
    t.equal(r.status, 201);
  });
  w.pg.kill9();
  const notReady = await waitFor(async () => {
    const r = await w.api.req<{ checks: { store?: { ok: boolean; detail?: string } } }>('GET', '/readyz');
    return r.status === 503 && r.body.checks.store?.ok === false ? r.body : null;
  }, 20_000, { what: '/readyz to report the store', intervalMs: 100 });
  // Whichever it saw first: its periodic read, or a commit of the work in hand.
  t.match(notReady.checks.store?.detail, /the store does not answer|the store fails commits: .*unavailable/);
  const refused = await w.api.start(order('o-out-refused'), { id: 'out-refused' });
  t.equal(refused.status, 503, 'a start is refused while the store is away');
  t.match(refused.body, { code: 'SAGA_ERR_STORE_UNAVAILABLE' });
  await w.pg.restart();
  await waitFor(async () => (await w.api.req('GET', '/readyz')).status === 200, 30_000, { what: 'ready again', intervalMs: 100 });
  await pool(ids.slice(30), 4, async (id, i) => {
    const r = await w.api.start(order(`o-out-${i + 30}`), { id });
    t.equal(r.status, 201);
  });
  await waitFor(async () => {
    const all = [...(await listed(w)).values()];
    return all.length === ids.length && all.every((i) => i.state === 'completed' || i.state === 'compensated');
  }, 120_000, { what: 'every saga to end', intervalMs: 250 });
  await checkAll(t, w, { ids, keys: [] });
});

t.test('SIGTERM while PostgreSQL is awaited at start: stopped at once, exit 0', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const env: NodeJS.ProcessEnv = {
    ...process.env, NATS_URL: nats.url, SAGA_DB: 'postgres://sagad:pw@127.0.0.1:1/nowhere', SAGA_HTTP_PORT: '0', SAGA_HTTP_HOST: '127.0.0.1',
    SAGA_DEFINITIONS: new URL('../../saga-definitions.yaml', import.meta.url).pathname,
  };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [SAGAD_MAIN], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  const lines: string[] = [];
  const retrying = new Promise<void>((resolve) => createInterface({ input: child.stderr }).on('line', (l) => {
    lines.push(l);
    if (/the store is unavailable; not ready, retrying in/.test(l)) resolve();
  }));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await retrying;
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'a stop asked for, not a failure');
  t.ok(lines.some((l) => /received SIGTERM while starting; stopped/.test(l)), 'and it says so', { lines });
});
