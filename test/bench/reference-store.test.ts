import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import t from 'tap';
import { openRefStore, type Row, type Write } from '../../bench/reference-store.js';
import { startPostgres } from '../helpers/postgres.js';

const row = (id: string, version: number, status: string): Row => ({ id, step: version - 1, status, version, last_command: `cmd-${id}-${version}`, data: `{"v":${version}}` });
const write = (id: string, version: number, status: string): Write => ({ type: `E${version}`, at: 1000 + version, payload: '{}', row: row(id, version, status) });

// Two inputs of saga a in one group (a PostgreSQL upsert may touch a row once per statement),
// then a second group that moves a on and starts c.
const GROUPS: Write[][] = [
  [write('a', 1, 'running'), write('b', 1, 'running'), write('a', 2, 'running')],
  [write('a', 3, 'completed'), write('c', 1, 'running')],
];
const EXPECTED = {
  sagas: [['a', 3, 'completed', 'cmd-a-3'], ['b', 1, 'running', 'cmd-b-1'], ['c', 1, 'running', 'cmd-c-1']],
  events: [['a', 1, 'E1'], ['a', 2, 'E2'], ['a', 3, 'E3'], ['b', 1, 'E1'], ['c', 1, 'E1']],
};

t.test('SQLite: every event appended, each saga row at its last write', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ref-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'ref.db');
  const store = await openRefStore(file);
  for (const g of GROUPS) await store.commit(g);
  await store.close();
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  t.same(db.prepare('SELECT id, version, status, last_command FROM sagas ORDER BY id').raw().all(), EXPECTED.sagas);
  t.same(db.prepare('SELECT saga_id, seq, type FROM events ORDER BY saga_id, seq').raw().all(), EXPECTED.events);
});

t.test('PostgreSQL: a group is one statement with the same outcome', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  const url = await server.createDatabase();
  const store = await openRefStore(url);
  for (const g of GROUPS) await store.commit(g);
  await store.close();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  t.teardown(() => c.end());
  const sagas = await c.query({ text: 'SELECT id, version, status, last_command FROM sagas ORDER BY id', rowMode: 'array' });
  const events = await c.query({ text: 'SELECT saga_id, seq, type FROM events ORDER BY saga_id, seq', rowMode: 'array' });
  t.same(sagas.rows, EXPECTED.sagas);
  t.same(events.rows, EXPECTED.events);
});
