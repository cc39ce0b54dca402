/**
 * sagactl admin backup's copy (engine/store/backup.ts): a database of an older schema is
 * copied as it is, so that it can be backed up before an upgrade; a backup that fails leaves
 * nothing at the target, where an empty file would restore as an empty store.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { backupSqlite } from '../../engine/store/backup.js';
import { openStore } from '../../engine/store/index.js';
import { migrate, migrations, schemaVersion, userVersion } from '../../engine/store/migrations.js';
import { startInstance, TestEnv } from './fixtures/saga.js';

t.test('a database of an older schema is copied as it is, and says its version', async (t) => {
  const dir = t.testdir();
  const source = join(dir, 'old.db');
  const db = new Database(source);
  migrate(db, migrations.slice(0, 11));
  db.close();
  const r = backupSqlite(source, join(dir, 'copy.db'));
  t.match(r, { schemaVersion: 11, instances: 0 });
  const copy = new Database(join(dir, 'copy.db'), { readonly: true });
  t.teardown(() => copy.close());
  t.equal(userVersion(copy), 11, 'not migrated: the copy is the database as it was');
});

t.test('a newer schema and a file that is not a sagad database are refused, and nothing is left at the target', async (t) => {
  const dir = t.testdir();
  const newer = join(dir, 'newer.db');
  const db = new Database(newer);
  db.pragma(`user_version = ${schemaVersion + 1}`);
  db.exec('CREATE TABLE instances (id TEXT)');
  db.close();
  t.throws(() => backupSqlite(newer, join(dir, 'a.db')), { code: 'SAGA_ERR_SCHEMA_VERSION', message: /newer than this build/ });
  const foreign = join(dir, 'foreign.db');
  new Database(foreign).exec('CREATE TABLE t (x)');
  t.throws(() => backupSqlite(foreign, join(dir, 'b.db')), { code: 'SAGA_ERR_SCHEMA_VERSION', message: /not a sagad database/ });
  t.same(readdirSync(dir).sort(), ['foreign.db', 'newer.db'], 'no copy, no temporary file');
});

const SCRIPT = `
process.on('SIGXFSZ', () => {});
const { backupSqlite } = await import(process.argv[4]);
try {
  backupSqlite(process.argv[2], process.argv[3]);
  console.log('ok');
} catch (e) {
  console.log('failed');
}
`;

t.test('a backup that runs out of room leaves no file at the target, so a retry can go ahead', async (t) => {
  const dir = t.testdir();
  const source = join(dir, 'sagad.db');
  const store = openStore(source);
  const env = new TestEnv();
  for (let i = 0; i < 300; i++) startInstance(store, env, `i-${i}`);
  store.close();
  const script = join(dir, 'backup.mjs');
  writeFileSync(script, SCRIPT);
  const target = join(dir, 'copy.db');
  const module = join(import.meta.dirname, '../../dist/engine/store/backup.js');
  // A file size limit of 64 KiB stands for a full disk: the copy cannot be written whole.
  const out = execFileSync('bash', ['-c', 'ulimit -f 64 && exec node "$0" "$1" "$2" "$3"', script, source, target, module], { encoding: 'utf8' });
  t.equal(out.trim(), 'failed');
  t.notOk(existsSync(target), 'nothing at the target');
  t.same(readdirSync(dir).filter((f) => f.includes('copy')), [], 'nor a temporary file beside it');
  t.match(backupSqlite(source, target), { instances: 300 }, 'with room, the same backup goes ahead');
});
