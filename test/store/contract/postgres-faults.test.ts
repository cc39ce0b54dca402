import { createServer } from 'node:net';
import pg from 'pg';
import t from 'tap';
import { StoreError } from '../../../engine/store/errors.js';
import type { StorePort } from '../../../engine/store/port.js';
import { classify } from '../../../engine/store/postgres/connect.js';
import { openPostgresStore } from '../../../engine/store/postgres/index.js';
import { startPostgres } from '../../helpers/postgres.js';
import { changeOf, committed, decision, reply, started, TestEnv, writeOf } from './writes.js';

// This file restarts its server: it has one of its own.
const server = await startPostgres();
t.teardown(() => server.stop());

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 1));
    });
  });
}

t.test('a wrong password is a settings error in one sentence that names the place, not the password', async (t) => {
  const url = server.urlOf('postgres', { user: server.user, password: 'not-the-password' });
  const err = await openPostgresStore(url).then(() => null, (e: unknown) => e);
  t.ok(err instanceof StoreError);
  t.match(err, { code: 'SAGA_ERR_STORE_CONFIG', message: /password/ });
  const message = (err as Error).message;
  t.match(message, `sagad@127.0.0.1:${server.port}/postgres`);
  t.notMatch(message, 'not-the-password');
});

t.test('a URL without the password the server asks for is a settings error that says where to put it', async (t) => {
  const saved = process.env.PGPASSWORD;
  delete process.env.PGPASSWORD;
  t.teardown(() => { if (saved !== undefined) process.env.PGPASSWORD = saved; });
  const url = `postgresql://${server.user}@127.0.0.1:${server.port}/postgres`;
  await t.rejects(openPostgresStore(url), {
    code: 'SAGA_ERR_STORE_CONFIG',
    message: `PostgreSQL at ${server.user}@127.0.0.1:${server.port}/postgres: the server asks for a password and none was given; put it in the URL (postgres://USER:PASSWORD@HOST/DB) or in PGPASSWORD`,
  });
});

t.test('an unknown database, an unknown user and a bad URL are settings errors', async (t) => {
  await t.rejects(openPostgresStore(server.urlOf('no_such_db')), { code: 'SAGA_ERR_STORE_CONFIG', message: /database does not exist/ });
  await t.rejects(openPostgresStore(server.urlOf('postgres', { user: 'nobody', password: 'x' })), { code: 'SAGA_ERR_STORE_CONFIG' });
  await t.rejects(openPostgresStore('mysql://localhost/x'), { code: 'SAGA_ERR_STORE_CONFIG', message: /not a postgres/ });
  await t.rejects(openPostgresStore('postgres://u:secret@localhost:5432/db?sslmode=sometimes'), { code: 'SAGA_ERR_STORE_CONFIG', message: /sslmode/ });
});

t.test('no server listening: unavailable, worth retrying', async (t) => {
  const port = await closedPort();
  const err = await openPostgresStore(`postgres://sagad:pw@127.0.0.1:${port}/db`).then(() => null, (e: unknown) => e);
  t.match(err, { code: 'SAGA_ERR_STORE_UNAVAILABLE' });
  t.match((err as Error).message, `127.0.0.1:${port}/db`);
  t.notMatch((err as Error).message, ':pw@');
});

t.test('a server killed and restarted mid-use: calls fail as unavailable meanwhile, then the pool reconnects and nothing committed is lost', async (t) => {
  const url = await server.createDatabase();
  const port: StorePort = await openPostgresStore(url);
  t.teardown(() => port.close());
  const env = new TestEnv();
  const states = [];
  for (let i = 0; i < 10; i++) states.push(await started(port, env, `i-${i}`));
  server.kill9();
  const s0 = states[0];
  if (s0 === undefined) throw new Error('no state');
  const during = decision(env, s0, reply(s0, 'reserve', 'Done', env));
  await t.rejects(port.commit(writeOf('m-during', changeOf(s0.version, during))), { code: 'SAGA_ERR_STORE_UNAVAILABLE' });
  await t.rejects(port.getInstance('i-1'), { code: 'SAGA_ERR_STORE_UNAVAILABLE' });
  await server.restart();
  const deadline = Date.now() + 20_000;
  let back: unknown;
  for (;;) {
    back = await port.getInstance('i-9').catch((e: unknown) => e);
    if (!(back instanceof Error) || Date.now() > deadline) break;
  }
  t.same(back, states[9], 'reads work again');
  for (const s of states) t.same(await port.getInstance(s.id), s, `${s.id} survived`);
  // The write refused while the server was down was not applied: it commits now.
  await committed(port, writeOf('m-during', changeOf(s0.version, during)));
  t.equal((await port.history(s0.id)).length, during.state.version);
});

t.test('a database that is read-only for now (a failover to a standby, an operator guarding a full disk): writes fail as unavailable, worth retrying, then commit', async (t) => {
  const url = await server.createDatabase();
  const db = new URL(url).pathname.slice(1);
  await (await openPostgresStore(url)).close();
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  t.teardown(() => admin.end());
  await admin.query(`ALTER DATABASE "${db}" SET default_transaction_read_only = on`);
  const env = new TestEnv();
  const ro: StorePort = await openPostgresStore(url);
  const s = await started(ro, env, 'i-ro').then(() => null, (e: unknown) => e);
  await ro.close();
  t.match(s, { code: 'SAGA_ERR_STORE_UNAVAILABLE', message: /25006/ }, 'held as the store being unavailable, not a failure of the message');
  await admin.query(`ALTER DATABASE "${db}" RESET default_transaction_read_only`);
  const rw: StorePort = await openPostgresStore(url);
  t.teardown(() => rw.close());
  const again = await started(rw, env, 'i-ro');
  t.same(await rw.getInstance('i-ro'), again, 'the same start commits once the database takes writes');
});

t.test('a server short of resources or failing underneath is unavailable; a data error is not', async (t) => {
  const err = (code: string) => Object.assign(new Error(`error ${code}`), { code });
  for (const code of ['53100', '53300', '58030', '25006', '55P03', '57P05', '08006']) {
    t.match(classify(err(code), 'db'), { code: 'SAGA_ERR_STORE_UNAVAILABLE' }, code);
  }
  // Out of memory and a statement timeout may be one input's doing: it fails, and is dead-lettered after its deliveries.
  for (const code of ['23505', '22021', '42P01', '40P01', '53200', '57014']) t.notOk(classify(err(code), 'db') instanceof StoreError, `${code} stays the error it is`);
});
