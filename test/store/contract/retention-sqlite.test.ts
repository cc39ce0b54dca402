import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openSqlitePort } from '../../../engine/store/sqlite-port.js';
import { retentionContract } from './retention-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'sagad-retention-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

retentionContract(t, {
  name: 'sqlite',
  leases: false,
  async fresh() {
    files += 1;
    const file = join(dir, `${files}.db`);
    return { open: (opts) => openSqlitePort(file, opts) };
  },
});
