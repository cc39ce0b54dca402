import t from 'tap';
import { describe, isPostgresUrl, poolConfig, redact } from '../../../engine/store/postgres/connect.js';

t.test('URLs that choose PostgreSQL', async (t) => {
  t.ok(isPostgresUrl('postgres://h/db'));
  t.ok(isPostgresUrl('postgresql://h/db'));
  t.ok(isPostgresUrl('POSTGRES://h/db'));
  t.notOk(isPostgresUrl('/var/lib/sagad/sagad.db'));
  t.notOk(isPostgresUrl('file:postgres://x'));
});

t.test('the password never leaves in a sentence', async (t) => {
  t.equal(redact('postgres://u:s3cret@h:5433/db?sslmode=require'), 'postgres://u:***@h:5433/db?sslmode=require');
  t.equal(redact('postgres://u@h/db'), 'postgres://u@h/db');
  t.equal(describe(poolConfig('postgres://u:s3cret@h:5433/db')), 'u@h:5433/db');
});

t.test('a password given as a query parameter, which the driver honours, is masked too; the rest is kept as written', async (t) => {
  const url = 'postgres://sagad@db.internal:5432/sagad?password=hunter2&sslmode=require';
  t.equal(poolConfig(url).password, 'hunter2', 'the driver takes it as the password');
  t.equal(redact(url), 'postgres://sagad@db.internal:5432/sagad?password=***&sslmode=require');
  t.equal(redact('postgres://u:s3cret@h/db?options=-c%20search_path%3Dsagad&pass%77ord=hunter2&sslpassword=keypass&passwords=1'),
    'postgres://u:***@h/db?options=-c%20search_path%3Dsagad&pass%77ord=***&sslpassword=***&passwords=1', 'an encoded name too, and the key\'s passphrase');
  t.equal(redact('postgres://u@h:99999/db?password=hunter2#x'), 'postgres://u@h:99999/db?password=***#x', 'a URL the parser refuses');
  t.equal(redact('postgres://u@h/db?sslmode=require'), 'postgres://u@h/db?sslmode=require');
});

t.test('sslmode has libpq meaning', async (t) => {
  const saved = process.env.PGSSLMODE;
  delete process.env.PGSSLMODE;
  t.teardown(() => { if (saved === undefined) delete process.env.PGSSLMODE; else process.env.PGSSLMODE = saved; });
  t.equal(poolConfig('postgres://h/db').ssl, undefined, 'none asked: plain');
  t.equal(poolConfig('postgres://h/db?sslmode=disable').ssl, false);
  t.equal(poolConfig('postgres://h/db?sslmode=prefer').ssl, false, 'prefer: the driver cannot fall back, so plain');
  t.match(poolConfig('postgres://h/db?sslmode=require').ssl, { rejectUnauthorized: false }, 'require: encrypted, not verified');
  const full = poolConfig('postgres://h/db?sslmode=verify-full').ssl;
  t.ok(typeof full === 'object' && full !== null && (full as { rejectUnauthorized?: boolean }).rejectUnauthorized !== false, 'verify-full: verified');
  t.throws(() => poolConfig('postgres://h/db?sslmode=verify-ca'), { code: 'SAGA_ERR_STORE_CONFIG' }, 'verify-ca without sslrootcert');
  process.env.PGSSLMODE = 'require';
  t.match(poolConfig('postgres://h/db').ssl, { rejectUnauthorized: false }, 'PGSSLMODE when the URL has none');
  t.equal(poolConfig('postgres://h/db?sslmode=disable').ssl, false, 'the URL wins');
});

t.test('PG* variables fill what the URL leaves out', async (t) => {
  const keys = ['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE'] as const;
  const saved = keys.map((k) => process.env[k]);
  t.teardown(() => keys.forEach((k, i) => { const v = saved[i]; if (v === undefined) delete process.env[k]; else process.env[k] = v; }));
  Object.assign(process.env, { PGHOST: 'db.internal', PGPORT: '6543', PGUSER: 'saga', PGDATABASE: 'sagas' });
  const cfg = poolConfig('postgres://');
  t.equal(cfg.host, undefined, 'left to the driver, which reads PGHOST');
  t.equal(describe(cfg), 'saga@db.internal:6543/sagas');
  t.equal(describe(poolConfig('postgres://other:1/x')), 'saga@other:1/x');
});
