import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { buildApi, type ApiOptions } from '../../engine/api/app.js';
import { openStore } from '../../engine/store/index.js';
import { StoreEngine } from '../api/store-engine.js';

/** The parts of the container that run without a Docker engine: the healthcheck script, the smoke script's arguments, the Dockerfile's promises. */

const root = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);

/** Exit code of `cmd args` (0 when it succeeds), with its output. */
async function exitOf(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const r = await run(cmd, args, { env: { ...process.env, ...env }, cwd: root, timeout: 20_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

async function serve(t: Test, host: string, opts: ApiOptions = {}) {
  const store = openStore(join(t.testdir(), 'api.db'));
  const engine = new StoreEngine(store);
  const app = buildApi(engine, opts);
  await app.listen({ host, port: 0 });
  t.teardown(async () => { await app.close(); store.close(); });
  return { engine, port: String((app.server.address() as AddressInfo).port) };
}

const healthcheck = (env: Record<string, string>) => exitOf(process.execPath, [join(root, 'deploy/healthcheck.js')], env);

t.test('the healthcheck asks /readyz at the configured address: 0 when ready, 1 when not', async (t) => {
  const { engine, port } = await serve(t, '0.0.0.0');
  t.equal((await healthcheck({ SAGA_HTTP_HOST: '0.0.0.0', SAGA_HTTP_PORT: port })).code, 0, 'a wildcard address is probed on loopback');
  t.equal((await healthcheck({ SAGA_HTTP_HOST: '127.0.0.1', SAGA_HTTP_PORT: port })).code, 0);
  engine.ready = { ready: false, checks: { nats: { ok: false, detail: 'not connected' } } };
  t.equal((await healthcheck({ SAGA_HTTP_HOST: '127.0.0.1', SAGA_HTTP_PORT: port })).code, 1, 'not ready (NATS gone) is unhealthy, unlike /healthz');
  t.equal((await healthcheck({ SAGA_HTTP_HOST: '127.0.0.1', SAGA_HTTP_PORT: '1' })).code, 1, 'nothing listening');
});

t.test('the healthcheck speaks HTTPS when SAGA_TLS_CERT is set', async (t) => {
  const dir = t.testdir();
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=sagad'], { stdio: 'ignore' });
  const pem = { cert: readFileSync(cert), key: readFileSync(key) };
  const { port } = await serve(t, '127.0.0.1', { https: pem });
  t.equal((await healthcheck({ SAGA_HTTP_HOST: '127.0.0.1', SAGA_HTTP_PORT: port, SAGA_TLS_CERT: cert })).code, 0);
  t.equal((await healthcheck({ SAGA_HTTP_HOST: '127.0.0.1', SAGA_HTTP_PORT: port })).code, 1, 'plain HTTP to an HTTPS port fails');
});

t.test('docker-smoke.sh: usage, bad arguments, and no engine', async (t) => {
  const script = join(root, 'deploy/docker-smoke.sh');
  const help = await exitOf('sh', [script, '--help']);
  t.equal(help.code, 0);
  t.match(help.out, 'Usage: deploy/docker-smoke.sh');
  t.equal((await exitOf('sh', [script, '--frobnicate'])).code, 2);
  t.equal((await exitOf('sh', [script, '--network'])).code, 2, '--network needs a name');
  const bad = await exitOf('sh', [script, '--timeout', 'soon']);
  t.equal(bad.code, 2);
  t.match(bad.out, "--timeout needs a number of seconds, not 'soon'");
  const port = await exitOf('sh', [script, '--port', '80a']);
  t.equal(port.code, 2);
  t.match(port.out, "--port needs a port number, not '80a'");
  const ca = await exitOf('sh', [script, '--npm-ca', '/nonexistent/ca.pem']);
  t.equal(ca.code, 2);
  t.match(ca.out, "--npm-ca: cannot read '/nonexistent/ca.pem'");
  // A PATH without docker stands for a machine without an engine.
  const none = await exitOf('/bin/sh', [script, '--no-build'], { PATH: '/nonexistent' });
  t.equal(none.code, 3);
  t.match(none.out, 'no Docker engine reachable');
});

t.test('stand-in-base.sh: usage, bad arguments, and no engine', async (t) => {
  const script = join(root, 'deploy/stand-in-base.sh');
  const help = await exitOf('sh', [script, '--help']);
  t.equal(help.code, 0);
  t.match(help.out, 'Usage: deploy/stand-in-base.sh');
  t.match(help.out, 'default: the Dockerfile\'s FROM, node:22-bookworm-slim', 'the tag it makes is the one the build needs');
  t.equal((await exitOf('sh', [script, '--frobnicate'])).code, 2);
  t.equal((await exitOf('sh', [script, '--tag'])).code, 2, '--tag needs a name');
  const bad = await exitOf('sh', [script, '--node', 'lts']);
  t.equal(bad.code, 2);
  t.match(bad.out, '--node and --npm take a major version number');
  const none = await exitOf('/bin/sh', [script], { PATH: '/nonexistent' });
  t.equal(none.code, 3);
  t.match(none.out, 'no Docker engine reachable');
  // The tag it imports is read from the Dockerfile, so the two cannot drift apart.
  const from = /^FROM (\S+)/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1];
  t.equal(from, 'node:22-bookworm-slim');
});

t.test('the Dockerfile keeps the promises of issue 13', async (t) => {
  const file = readFileSync(join(root, 'Dockerfile'), 'utf8');
  t.notMatch(file, /^#\s*syntax=/m, 'no # syntax= line (offline builds)');
  t.match(file, /^FROM node:22-bookworm-slim AS build$/m);
  t.equal(file.match(/^FROM /gm)?.length, 2);
  t.match(file, /^FROM node:22-bookworm-slim$/m, 'Node 22 LTS at run time');
  t.match(file, /^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m, 'tini is PID 1');
  t.match(file, /^HEALTHCHECK .*CMD \["node", "\/app\/deploy\/healthcheck\.js"\]$/m, 'the healthcheck is the /readyz script');
  t.match(file, /chgrp|chown -R node:0 \/data/, '/data belongs to group 0');
  t.match(file, /chmod -R g=u \/data/);
  const final = file.slice(file.lastIndexOf('\nFROM '));
  const copies = final.split('\n').filter((l) => l.startsWith('COPY '));
  t.ok(copies.length > 0);
  t.notOk(copies.some((l) => /sagas|saga-definitions/.test(l)), 'no demo definitions in the final image', { copies });
  t.match(readFileSync(join(root, '.dockerignore'), 'utf8'), /^node_modules$/m);
  t.ok(copies.some((l) => l === 'COPY --from=build /app/dist/ui dist/ui'), 'the console is in the image (found missing when the image first ran)');
  // A proxy's CA is trusted by the build stage alone, and only when given.
  const build = file.slice(0, file.lastIndexOf('\nFROM '));
  t.match(build, /^ARG NPM_EXTRA_CA=""$/m, 'no extra CA by default');
  t.notMatch(final, /NPM_EXTRA_CA|NODE_EXTRA_CA_CERTS|strict-ssl|cafile/, 'nothing of it in the final image');
  t.notMatch(file, /strict-ssl|NODE_TLS_REJECT_UNAUTHORIZED/, 'TLS is never switched off');
});
