import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credsAuthenticator, nkeys } from '@nats-io/transport-node';
import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { runGuarded } from './secure-nats.js';
import { operatorSetup } from './nats-jwt.js';

/** sagad joins a secured NATS with each way of authenticating: user and password, token, nkey, creds. */

const ADMIN = { user: 'admin', password: 'admin-pw' };
const adminUser = `{ user: ${ADMIN.user}, password: ${ADMIN.password} }`;

t.test('user and password', async (t) => {
  const nats = await startNatsServer({
    config: `authorization { users = [ { user: sagad, password: "s3cret pw" }, ${adminUser} ] }`,
    check: { user: ADMIN.user, pass: ADMIN.password },
  });
  t.teardown(() => nats.stop());
  const run = await runGuarded(t.testdir(), nats.url, { NATS_USER: 'sagad', NATS_PASSWORD: 's3cret pw' }, ADMIN);
  t.same(run, { completed: 'completed', compensated: 'compensated' });
});

t.test('token', async (t) => {
  const nats = await startNatsServer({ config: 'authorization { token: "tok-123" }', check: { token: 'tok-123' } });
  t.teardown(() => nats.stop());
  const run = await runGuarded(t.testdir(), nats.url, { NATS_TOKEN: 'tok-123' }, { token: 'tok-123' });
  t.same(run, { completed: 'completed', compensated: 'compensated' });
});

t.test('nkey seed file', async (t) => {
  const dir = t.testdir();
  const kp = nkeys.createUser();
  const seedFile = join(dir, 'sagad.nk');
  writeFileSync(seedFile, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600 });
  const nats = await startNatsServer({
    config: `authorization { users = [ { nkey: ${kp.getPublicKey()} }, ${adminUser} ] }`,
    check: { user: ADMIN.user, pass: ADMIN.password },
  });
  t.teardown(() => nats.stop());
  const run = await runGuarded(join(dir, 'run'), nats.url, { NATS_NKEY: seedFile }, ADMIN);
  t.same(run, { completed: 'completed', compensated: 'compensated' });
});

t.test('creds file (operator, account and user JWTs)', async (t) => {
  const dir = t.testdir();
  const op = operatorSetup();
  const [sagadCreds, adminCreds] = [join(dir, 'sagad.creds'), join(dir, 'admin.creds')];
  writeFileSync(sagadCreds, op.userCreds('sagad'), { mode: 0o600 });
  writeFileSync(adminCreds, op.userCreds('admin'), { mode: 0o600 });
  const nats = await startNatsServer({ config: op.server, check: { authenticator: credsAuthenticator(new TextEncoder().encode(op.userCreds('check'))) } });
  t.teardown(() => nats.stop());
  const run = await runGuarded(join(dir, 'run'), nats.url, { NATS_CREDS: sagadCreds }, { credsFile: adminCreds });
  t.same(run, { completed: 'completed', compensated: 'compensated' });
});
