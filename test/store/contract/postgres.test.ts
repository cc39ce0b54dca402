import t from 'tap';
import { openPostgresStore } from '../../../engine/store/postgres/index.js';
import { startPostgres } from '../../helpers/postgres.js';
import { contract } from './suite.js';

const server = await startPostgres();
t.teardown(() => server.stop());

contract(t, {
  name: 'postgres',
  leases: true,
  async fresh() {
    const url = await server.createDatabase();
    return { open: (opts) => openPostgresStore(url, opts) };
  },
});
