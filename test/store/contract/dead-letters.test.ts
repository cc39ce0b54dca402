import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openPostgresStore } from '../../../engine/store/postgres/index.js';
import { openSqlitePort } from '../../../engine/store/sqlite-port.js';
import { startPostgres } from '../../helpers/postgres.js';
import { deadLetterContract } from './dead-letters.js';

const dir = mkdtempSync(join(tmpdir(), 'sagad-dlq-contract-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

t.test('sqlite', async (t) => {
  deadLetterContract(t, () => openSqlitePort(join(dir, `${++files}.db`)));
});

t.test('postgres', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  deadLetterContract(t, async () => openPostgresStore(await server.createDatabase()));
});
