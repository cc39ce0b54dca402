import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { isPostgresUrl, openStorePort, redact } from '../../engine/store/open.js';

// A SQLite sagad or sagactl does without the PostgreSQL adapter and its driver: open.ts loads
// them only for a postgres:// URL. This file runs in a process of its own, so the module cache
// holds only what these imports loaded.

const loaded = (pkg: string): boolean => Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes(`/node_modules/${pkg}/`));

t.test('opening a SQLite file loads no PostgreSQL driver; the PostgreSQL adapter does', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sagad-open-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.ok(isPostgresUrl('postgres://u:secret@db/x') && !isPostgresUrl(join(dir, 'a.db')), 'URLs told from files without the driver');
  t.equal(redact('postgres://u:secret@db/x'), 'postgres://u:***@db/x');
  const port = await openStorePort(join(dir, 'a.db'));
  t.equal(port.kind, 'sqlite');
  await port.close();
  t.notOk(loaded('pg'), 'pg is not loaded by a SQLite store');
  await import('../../engine/store/postgres/index.js');
  t.ok(loaded('pg'), 'the PostgreSQL adapter loads it (so the check above can see it)');
});
