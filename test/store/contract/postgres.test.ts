import t from 'tap';
import { openPostgresStore } from '../../../engine/store/postgres/index.js';
import { startPostgres } from '../../helpers/postgres.js';
import { contract } from './suite.js';
import { outboxOrderContract } from './outbox-order.js';
import { timerSweepContract } from './timer-sweep.js';
import { earlyEventsContract, issue12Contract, rebuildContract } from './issue12-suite.js';
import { readsContract } from './reads.js';

const server = await startPostgres();
t.teardown(() => server.stop());

const factory: Parameters<typeof contract>[1] = {
  name: 'postgres',
  leases: true,
  deletesSent: true,
  async fresh() {
    const url = await server.createDatabase();
    return { open: (opts) => openPostgresStore(url, opts) };
  },
};
contract(t, factory);
outboxOrderContract(t, factory);
timerSweepContract(t, factory);
issue12Contract(t, factory);
earlyEventsContract(t, factory);
rebuildContract(t, factory);
readsContract(t, factory);

