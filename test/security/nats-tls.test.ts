import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { SagadExitedError, startSagad } from '../helpers/sagad.js';
import { GUARDED_DEFS, runGuarded } from './secure-nats.js';

/** sagad over TLS to NATS, and what it does when NATS refuses it. */

const ADMIN = { user: 'admin', password: 'admin-pw' };
const adminUser = `{ user: ${ADMIN.user}, password: ${ADMIN.password} }`;

t.test('mutual TLS with a tls:// URL, a CA and a client certificate', async (t) => {
  const dir = t.testdir();
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=test-ca');
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    writeFileSync(f(`${name}.ext`), `${ext}\n`);
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '1', '-extfile', f(`${name}.ext`));
  }
  const tls = { caFile: f('ca.pem'), certFile: f('client.pem'), keyFile: f('client.key') };
  const nats = await startNatsServer({
    config: `tls { cert_file: "${f('server.pem')}", key_file: "${f('server.key')}", ca_file: "${f('ca.pem')}", verify: true }`,
    check: { tls },
  });
  t.teardown(() => nats.stop());
  const url = nats.url.replace('nats://', 'tls://');
  const run = await runGuarded(join(dir, 'run'), url,
    { NATS_TLS_CA: tls.caFile, NATS_TLS_CERT: tls.certFile, NATS_TLS_KEY: tls.keyFile },
    { tlsCaFile: tls.caFile, tlsCertFile: tls.certFile, tlsKeyFile: tls.keyFile });
  t.same(run, { completed: 'completed', compensated: 'compensated' });

  // Without a client certificate the server refuses the handshake: sagad stops, it does not loop.
  const refused = await startSagad({ natsUrl: url, dbFile: join(dir, 'no-cert.db'), definitions: join(dir, 'run', 'guarded.yaml'), env: { NATS_TLS_CA: tls.caFile }, readyTimeoutMs: 20_000 })
    .then(async (s) => { await s.kill9(); return null; }, (err: unknown) => err);
  t.ok(refused instanceof SagadExitedError, 'sagad exited');
  t.equal((refused as SagadExitedError).code, 1);
  const errors = (refused as SagadExitedError).stderr.filter((l) => l.includes('"level":"error"'));
  t.equal(errors.length, 1, 'one error line', { stderr: (refused as SagadExitedError).stderr });
  t.match(errors[0], /sagad could not start: cannot connect to NATS at tls:\/\/127\.0\.0\.1:\d+: .*TLS is on: check that NATS_TLS_CA trusts the server's certificate and, if the server verifies clients, that NATS_TLS_CERT and NATS_TLS_KEY are set/);
});

t.test('wrong credentials: one sentence and exit 1, not a reconnect loop', async (t) => {
  const dir = t.testdir();
  const definitions = join(dir, 'guarded.yaml');
  writeFileSync(definitions, GUARDED_DEFS);
  const nats = await startNatsServer({
    config: `authorization { users = [ { user: sagad, password: right }, ${adminUser} ] }`,
    check: { user: ADMIN.user, pass: ADMIN.password },
  });
  t.teardown(() => nats.stop());
  const cases: [Record<string, string>, RegExp][] = [
    [{ NATS_USER: 'sagad', NATS_PASSWORD: 'wrong' }, /NATS at nats:\/\/127\.0\.0\.1:\d+ refused sagad's credentials \(.*[Aa]uthorization [Vv]iolation.*\); sagad tried NATS_USER=sagad and NATS_PASSWORD/],
    [{}, /refused sagad's credentials .*sagad tried no credentials \(set NATS_CREDS, NATS_NKEY, NATS_USER and NATS_PASSWORD, or NATS_TOKEN\)/],
  ];
  for (const [env, sentence] of cases) {
    const err = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'sagad.db'), definitions, env, readyTimeoutMs: 20_000 })
      .then(async (s) => { await s.kill9(); return null; }, (e: unknown) => e);
    t.ok(err instanceof SagadExitedError, 'sagad exited by itself');
    const e = err as SagadExitedError;
    t.equal(e.code, 1, 'exit code 1');
    const errors = e.stderr.filter((l) => l.includes('"level":"error"'));
    t.equal(errors.length, 1, 'one error line', { stderr: e.stderr });
    t.match(errors[0], sentence);
  }
  const missing = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'sagad.db'), definitions, env: { NATS_NKEY: join(dir, 'absent.nk') }, readyTimeoutMs: 20_000 })
    .then(async (s) => { await s.kill9(); return null; }, (e: unknown) => e);
  t.equal((missing as SagadExitedError).code, 1);
  t.match((missing as SagadExitedError).stderr.join('\n'), `cannot read the NATS nkey seed file ${join(dir, 'absent.nk')}`);
});
