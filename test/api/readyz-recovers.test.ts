import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { loadConfig } from '../../engine/config.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { uuidv7 } from '../../engine/ids.js';
import { createLogger } from '../../engine/log.js';
import { startSagad } from '../../engine/main.js';
import { storeHealth } from '../../engine/store-services.js';
import { openStorePort } from '../../engine/store/open.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startPostgres } from '../helpers/postgres.js';
import { waitFor } from '../helpers/sagad.js';

/**
 * A commit that fails because the store is unavailable (here SQLITE_FULL: the database on a
 * small tmpfs the test fills; mounting needs root, as the README's test command runs) makes
 * sagad not ready. Once space returns, /readyz is 200 again by itself, without any further
 * input: the health check tries a write while commits fail, a real one (an inbox row), which
 * fails as long as a commit of its size does.
 */
t.setTimeout(120_000);
const disk = mkdtempSync(join(tmpdir(), 'sagad-readyz-'));
execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', disk]);
t.teardown(() => {
  execFileSync('umount', ['-l', disk]);
  rmSync(disk, { recursive: true, force: true });
});

/** Writes into `file` until the file system is full. */
function fill(file: string): void {
  const fd = openSync(file, 'a');
  try {
    for (;;) writeSync(fd, Buffer.alloc(16 * 1024, 1));
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

t.test('not ready after a failed commit; ready again once the store takes writes, with no new input', async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const dir = t.testdir();
  const definitions = join(dir, 'defs.yaml');
  // Nothing of an instance comes due for an hour: no timer's commit can clear the failure.
  writeFileSync(definitions, `version: 1
sagas:
  - name: idle
    timeout: 2h
    steps:
      - name: only
        pivot: true
        command: { subject: rz.commands, type: Do, payload: { pad: "{% $input.pad %}" } }
        reply: { subject: rz.replies, success: [Done] }
        timeout: 1h
`);
  const defs = loadDefinitionsFile(definitions);
  if (!defs.ok) throw new Error('bad definitions');
  const lines: string[] = [];
  const server = await startSagad(loadConfig({
    SAGA_DEFINITIONS: definitions, SAGA_DB: join(disk, 'sagad.db'), NATS_URL: nats.url, SAGA_HTTP_HOST: '127.0.0.1', SAGA_HTTP_PORT: '0',
  }), defs.sagas, createLogger('info', (line) => lines.push(line)));
  t.teardown(() => server.stop());
  const readyz = async () => {
    const r = await fetch(`${server.httpUrl}/readyz`);
    return { status: r.status, body: await r.json() as { checks: { store: { ok: boolean; detail?: string } } } };
  };
  await waitFor(async () => (await readyz()).status === 200, 20_000, { what: 'sagad to be ready' });

  const filler = join(disk, 'filler');
  fill(filler);
  // The WAL may still have room for a commit or two: start until one is refused.
  let refused = 0;
  for (let i = 0; i < 200 && refused === 0; i++) {
    const r = await fetch(`${server.httpUrl}/v1/sagas/idle/instances`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: `rz-${i}`, input: { pad: 'p'.repeat(8_000) } }),
    });
    if (r.status >= 500) refused = r.status;
  }
  t.ok(refused >= 500, `a start was refused on the full disk (${refused})`);
  const notReady = await readyz();
  t.equal(notReady.status, 503, 'not ready: its commits fail');
  t.match(notReady.body.checks.store, { ok: false, detail: /^the store fails commits: .*full/i });

  rmSync(filler);
  await waitFor(async () => (await readyz()).status === 200, 15_000, { what: '/readyz to be 200 again' });
  t.pass('ready again, with no start or message since the disk was freed');
  t.ok(lines.some((l) => l.includes('"msg":"the store takes writes again"')), 'the health check\'s write cleared it, and the log says so');
});

t.test('the health check\'s write is a real one: it fails where a commit of its size fails', async (t) => {
  const dir = join(disk, 'probe');
  mkdirSync(dir);
  const port = await openStorePort(join(dir, 'sagad.db'));
  t.teardown(() => port.close());
  const lines: string[] = [];
  const health = storeHealth(port, (_level, msg) => { lines.push(msg); }, 50);
  t.teardown(() => health.stop());
  // Inputs of the check's own size (an inbox row and nothing else) until one fails.
  for (let i = 0; i < 20; i++) await health.store.commit({ messageId: `sagad-write-check/${uuidv7()}`, firedTimer: null, changes: [] });
  const filler = join(dir, 'filler');
  fill(filler);
  let failure: unknown = null;
  for (let i = 0; i < 100_000 && failure === null; i++) {
    await health.store.commit({ messageId: `sagad-write-check/${uuidv7()}`, firedTimer: null, changes: [] }).catch((err: unknown) => { failure = err; });
  }
  t.match(failure, { code: 'SQLITE_FULL' }, 'a commit failed on the full disk');
  t.notOk(health.ok(), 'not ok');
  t.match(health.detail(), /^the store fails commits: .*full/i);
  // Many checks, each trying its write, which fails too (an empty transaction would succeed).
  await delay(500);
  t.notOk(health.ok(), 'still not ok while the disk is full');
  rmSync(filler);
  await waitFor(() => health.ok(), 5_000, { what: 'the health check to see a write succeed' });
  t.ok(lines.includes('the store takes writes again'), 'ok again once its write succeeds');
});

t.test('PostgreSQL: a commit fails while the server is down; the check\'s write clears it once it is back', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  const port = await openStorePort(await server.createDatabase());
  t.teardown(() => port.close());
  const health = storeHealth(port, () => undefined, 100);
  t.teardown(() => health.stop());
  await health.store.commit({ messageId: `m-${uuidv7()}`, firedTimer: null, changes: [] });
  server.kill9();
  await t.rejects(health.store.commit({ messageId: `m-${uuidv7()}`, firedTimer: null, changes: [] }), { code: 'SAGA_ERR_STORE_UNAVAILABLE' });
  t.notOk(health.ok(), 'not ok while the server is down');
  await server.restart();
  await waitFor(() => health.ok(), 20_000, { what: 'the health check to see a write succeed' });
  t.pass('ok again, with no commit but the check\'s own');
});
