import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openSqlitePort } from '../../../engine/store/sqlite-port.js';
import { contract } from './suite.js';
import { outboxOrderContract } from './outbox-order.js';
import { timerSweepContract } from './timer-sweep.js';
import { earlyEventsContract, issue12Contract, rebuildContract } from './issue12-suite.js';
import { readsContract } from './reads.js';

const dir = mkdtempSync(join(tmpdir(), 'sagad-contract-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const factory: Parameters<typeof contract>[1] = {
  name: 'sqlite',
  leases: false,
  deletesSent: true,
  async fresh() {
    files += 1;
    const file = join(dir, `${files}.db`);
    return { open: (opts) => openSqlitePort(file, opts) };
  },
};
contract(t, factory);
outboxOrderContract(t, factory);
timerSweepContract(t, factory);
issue12Contract(t, factory);
earlyEventsContract(t, factory);
rebuildContract(t, factory);
readsContract(t, factory);

